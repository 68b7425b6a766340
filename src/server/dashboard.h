#pragma once
// GET /: a small page (no build step, no CDN) showing the loaded model and the model list with
// load buttons, and a chat box that streams through the API.

#include <string_view>

namespace salut::server {

std::string_view dashboard_html();

}  // namespace salut::server
