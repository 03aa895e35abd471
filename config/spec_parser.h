#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_error.h"
#include "config/model_deployment.h"

namespace cmlr::config {

// One ModelDeployment document of a file as far as it could be read.
struct ParsedDocument {
  std::optional<ModelDeploymentSpec> spec;  // set only when the document has no error
  // metadata.name and the places of metadata.name and spec.modelName, known even when other
  // fields have errors, for the checks across documents (duplicate names, two documents
  // driving the same CML model).
  std::string name;
  int name_line = 0;
  int name_column = 0;
  std::string project_id;
  std::string model_name;
  int model_name_line = 0;
  int model_name_column = 0;
};

struct ParsedFile {
  std::vector<ParsedDocument> documents;
  std::vector<LoadError> errors;  // sorted by position
};

// Reads, validates and normalises every document of one file's text (design section 3):
// every error is collected, each with the position and path of the field at fault. `file`
// names the file in errors and in ModelDeploymentSpec::source. Empty documents between `---`
// separators are skipped, but a text with no document at all is an error (an empty file is
// almost always a truncated write). Never throws.
ParsedFile ParseDesiredStateText(std::string_view text, const std::string& file);

// Levenshtein-based "did you mean" for a misspelled key: the closest of `candidates` when it
// is close enough to be a likely typo (or equal ignoring case, '_' and '-'), else empty.
std::string SuggestKey(std::string_view key, const std::vector<std::string_view>& candidates);

}  // namespace cmlr::config
