#pragma once

#include <string_view>

// The status page's sources, compiled into the binary by embed.cmake (a generated .cc defines
// these). Each view points to static storage and is valid for the life of the program.
namespace cmlr::daemon::status_page_assets {

std::string_view
IndexHtml();  // holds <style>/*CMLR_STYLE*/</style> and <script>/*CMLR_SCRIPT*/</script>
std::string_view StyleCss();
std::string_view AppJs();

}  // namespace cmlr::daemon::status_page_assets
