#include "daemon/status_page.h"

#include <openssl/evp.h>

#include <array>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include "daemon/status_page/assets.h"

namespace cmlr::daemon {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view kStylePlaceholder = "/*CMLR_STYLE*/";
constexpr std::string_view kScriptPlaceholder = "/*CMLR_SCRIPT*/";

// The CSP source expression for an inline block: 'sha256-<base64 of its SHA-256>'.
std::string CspHash(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &digest_size, EVP_sha256(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> base64{};
  const int length = EVP_EncodeBlock(base64.data(), digest.data(), static_cast<int>(digest_size));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(base64.data()), length) + "'";
}

void ReplaceOnce(std::string& text, std::string_view placeholder, std::string_view value) {
  const auto at = text.find(placeholder);
  if (at != std::string::npos) text.replace(at, placeholder.size(), value);
}

struct Page {
  std::string html;
  std::string csp;
};

Page Assemble() {
  const std::string_view style = status_page_assets::StyleCss();
  const std::string_view script = status_page_assets::AppJs();
  Page page{.html = std::string(status_page_assets::IndexHtml())};
  // The style first: the script placeholder cannot occur in style.css, but a script may mention
  // the style placeholder.
  ReplaceOnce(page.html, kStylePlaceholder, style);
  ReplaceOnce(page.html, kScriptPlaceholder, script);
  page.csp = "default-src 'none'; script-src " + CspHash(script) + "; style-src " + CspHash(style) +
             "; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'";
  return page;
}

}  // namespace

common::HttpResponse StatusPageResponse() {
  static const Page page = Assemble();
  common::HttpResponse response{http::status::ok, 11};
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set("Content-Security-Policy", page.csp);
  response.set(http::field::cache_control, "no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.body() = page.html;
  return response;
}

}  // namespace cmlr::daemon
