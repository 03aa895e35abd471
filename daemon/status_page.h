#pragma once

#include "common/http_server.h"

namespace cmlr::daemon {

// GET / (design section 13): the status page, one self-contained HTML document whose style and
// script (daemon/status_page/, compiled into the binary) are inlined. The answer carries
//   Content-Type: text/html; charset=utf-8
//   Content-Security-Policy: nothing but that style and that script (by their SHA-256), fetches
//     and the event stream to this origin, no frames, no forms, no base URI
//   Cache-Control: no-cache (the page changes with the binary; revalidating is cheap)
// and X-Content-Type-Options, Referrer-Policy. The page reads GET api/v1/status and
// api/v1/events and POSTs to the reconcile and retry endpoints; it holds no data itself.
// Safe to call from any thread; the document is assembled once.
common::HttpResponse StatusPageResponse();

}  // namespace cmlr::daemon
