#include "core/error.h"

namespace salut {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::unauthorized: return "unauthorized";
    case Errc::forbidden: return "forbidden";
    case Errc::not_a_model: return "not_a_model";
    case Errc::unavailable: return "unavailable";
    case Errc::verification: return "verification_failed";
    case Errc::no_space: return "no_space";
    case Errc::io: return "io_error";
    case Errc::busy: return "busy";
    case Errc::insufficient_memory: return "insufficient_memory";
    case Errc::cancelled: return "cancelled";
    case Errc::internal: return "internal_error";
  }
  return "internal_error";
}

}  // namespace salut
