#include "activity.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace astmrf::srf::detail {

std::shared_ptr<void> Activity::hold() {
  ++count_;
  // The token keeps the tracker: a dialog may outlive its Srf.
  return {static_cast<void*>(this), [self = shared_from_this()](void*) { self->release(); }};
}

void Activity::release() {
  if (count_ > 0) --count_;
  std::erase_if(waiters_, [](const auto& w) { return w->done(); });  // cancelled ones
  if (count_ != 0 || waiters_.empty() || check_posted_) return;
  // Checked later, not now: an INVITE hands its token to its dialog (answered, then the
  // dialog made) and the count is 0 only in between.
  check_posted_ = true;
  boost::asio::post(executor_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->check();
  });
}

void Activity::check() {
  check_posted_ = false;
  if (count_ != 0) return;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& waiter : waiters) (*waiter)(nullptr);
}

void Activity::wait_idle(IdleHandler handler, const boost::asio::any_io_executor& executor) {
  if (!executor_) executor_ = executor;
  auto once = astmrf::detail::make_once(std::move(handler), executor);
  if (count_ == 0) {
    (*once)(nullptr);
    return;
  }
  std::erase_if(waiters_, [](const auto& w) { return w->done(); });
  once->on_cancel();
  waiters_.push_back(std::move(once));
}

}  // namespace astmrf::srf::detail
