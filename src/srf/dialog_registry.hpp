// The dialogs of one Srf, by Call-ID (RFC 3891 Replaces finds the dialog an INVITE
// replaces). Weak: a dialog is the application's; an ended or dropped one is skipped
// and swept out.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace astmrf::srf {
class Dialog;
}

namespace astmrf::srf::detail {

class DialogRegistry {
 public:
  /// Remembers `dialog` under its Call-ID.
  void add(const std::shared_ptr<Dialog>& dialog);
  /// The live dialog with this Call-ID whose local tag is `local_tag` and remote tag
  /// `remote_tag` (compared now: a drachtio UAS learns its tag after the 2xx went out).
  [[nodiscard]] std::shared_ptr<Dialog> find(std::string_view call_id, std::string_view local_tag,
                                             std::string_view remote_tag);
  /// Entries kept (live or not yet swept); for tests.
  [[nodiscard]] std::size_t size() const noexcept { return dialogs_.size(); }

 private:
  void sweep();

  std::unordered_multimap<std::string, std::weak_ptr<Dialog>> dialogs_;
  std::size_t sweep_at_{64};  // sweeps when the map grows past this (amortized O(1) per add)
};

}  // namespace astmrf::srf::detail
