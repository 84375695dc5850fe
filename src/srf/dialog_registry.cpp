#include "dialog_registry.hpp"

#include <astmrf/srf/dialog.hpp>

#include <algorithm>

namespace astmrf::srf::detail {

void DialogRegistry::add(const std::shared_ptr<Dialog>& dialog) {
  if (dialogs_.size() >= sweep_at_) sweep();
  dialogs_.emplace(dialog->call_id(), dialog);
}

std::shared_ptr<Dialog> DialogRegistry::find(std::string_view call_id, std::string_view local_tag,
                                             std::string_view remote_tag) {
  auto [first, last] = dialogs_.equal_range(std::string(call_id));
  for (auto it = first; it != last; ++it) {
    auto dialog = it->second.lock();
    if (!dialog || dialog->destroyed()) continue;
    if (dialog->local_tag() == local_tag && dialog->remote_tag() == remote_tag) return dialog;
  }
  return nullptr;
}

void DialogRegistry::sweep() {
  std::erase_if(dialogs_, [](const auto& entry) {
    auto dialog = entry.second.lock();
    return !dialog || dialog->destroyed();
  });
  sweep_at_ = std::max<std::size_t>(64, 2 * dialogs_.size());
}

}  // namespace astmrf::srf::detail
