#include "core/error.hpp"

#include <string>

namespace redchat {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "redchat"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::ok:
                return "ok";
            case errc::redis_unavailable:
                return "Redis is not available";
            case errc::redis_timeout:
                return "Redis did not answer in time";
            case errc::redis_lost:
                return "the connection to Redis was lost before its answer";
            case errc::redis_error:
                return "Redis returned an error";
            case errc::redis_noscript:
                return "Redis does not have the script";
            case errc::redis_protocol:
                return "Redis returned an unexpected reply";
            case errc::redis_unreplicated:
                return "no Redis replica confirmed it in time";
            case errc::bad_input:
                return "invalid input";
            case errc::not_found:
                return "not found";
            case errc::conflict:
                return "conflict";
            case errc::forbidden:
                return "forbidden";
            case errc::unauthorized:
                return "unauthorized";
            case errc::shutting_down:
                return "the server is shutting down";
        }
        return "unknown error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace redchat
