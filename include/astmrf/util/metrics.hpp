// Metrics that stay on in production: counters, gauges and fixed-bucket histograms
// updated with one relaxed atomic operation each (no lock, no allocation), grouped in
// families with labels, and rendered in Prometheus's text exposition format 0.0.4.
//
// A component looks its children up once, at construction (Family::with takes a lock
// and may allocate), and keeps the shared_ptrs: the hot path only touches atomics.
// A child is exposed while something other than the registry holds it, so the series of
// a media server removed from a pool, or of an Engine destroyed, leave /metrics by
// themselves at the next scrape. Every operation is thread-safe: a scrape may run on
// another thread than the components that update the values.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::util::metrics {

/// A value that only goes up (Prometheus counter; its name should end in `_total`).
class Counter {
 public:
  /// Adds `n`.
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  /// The current total.
  [[nodiscard]] std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (Prometheus gauge).
class Gauge {
 public:
  /// Sets the value.
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  /// Adds `d` (negative: subtracts).
  void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  /// Adds 1.
  void inc() noexcept { add(1); }
  /// Subtracts 1.
  void dec() noexcept { add(-1); }
  /// The current value.
  [[nodiscard]] double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Observations counted in fixed buckets (Prometheus histogram).
class Histogram {
 public:
  /// Upper bounds, strictly increasing and finite (+Inf is implicit).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  /// Counts `value` in the first bucket whose bound is >= it, and adds it to the sum.
  void observe(double value) noexcept;

  /// Cumulative bucket counts (one per bound, then +Inf), sum and count, read together.
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  ///< per bound, then +Inf
    double sum{0};                          ///< of every observed value
    std::uint64_t count{0};                 ///< equals cumulative.back()
  };
  /// The counts and sum now.
  [[nodiscard]] Snapshot snapshot() const;
  /// The buckets' upper bounds, without +Inf.
  [[nodiscard]] const std::vector<double>& bounds() const noexcept { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

/// Latency buckets in seconds, 1 ms to 10 s: SIP setups, REST calls.
std::vector<double> latency_buckets();

enum class Type : std::uint8_t { counter, gauge, histogram };

/// What families share, whatever their type.
class FamilyBase {
 public:
  /// Checks the names; throws std::invalid_argument when one is invalid or reserved.
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  /// The metric name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The HELP text.
  [[nodiscard]] const std::string& help() const noexcept { return help_; }
  /// Counter, gauge or histogram.
  [[nodiscard]] Type type() const noexcept { return type_; }
  /// The label names, in the order with() takes their values.
  [[nodiscard]] const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  /// Appends the family's `# HELP`, `# TYPE` and samples; drops children nobody holds.
  virtual void write(std::string& out) = 0;

 protected:
  /// Throws std::invalid_argument unless `values` is the number of labels.
  void check_arity(std::size_t values) const;
  /// Appends `# HELP` and `# TYPE`.
  void write_header(std::string& out) const { out += header_; }
  /// `a="x",b="y"`: a child's labels as every scrape writes them (made once, with the child).
  [[nodiscard]] std::string label_text(const std::vector<std::string>& values) const;
  /// Appends `name<suffix>{<labels>[,le="..."]} ` for one sample.
  void write_series(std::string& out, std::string_view suffix, std::string_view labels, std::string_view le = {}) const;
  mutable std::mutex mutex_;  ///< guards the children

 private:
  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
  std::string header_;  // `# HELP ...` and `# TYPE ...`, rendered once
};

/// Metrics of one name, one child per set of label values.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  /// A histogram family, whose children share `bounds`.
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::shared_ptr<const std::vector<double>> bounds);

  /// The child with these label values, in label_names() order; made on first use, the same
  /// one after. Locks and may allocate: call it at set-up and keep the pointer.
  std::shared_ptr<Metric> with(std::vector<std::string> values) {
    check_arity(values.size());
    std::lock_guard lock(mutex_);
    auto it = children_.find(values);
    if (it == children_.end()) {
      auto labels = label_text(values);
      it = children_.emplace(std::move(values), Child{make(), std::move(labels)}).first;
    }
    return it->second.metric;
  }

  void write(std::string& out) override;

 private:
  std::shared_ptr<Metric> make() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_shared<Histogram>(bounds_);
    } else {
      return std::make_shared<Metric>();
    }
  }
  struct Child {
    std::shared_ptr<Metric> metric;
    std::string labels;  // label_text() of its values
  };
  friend class Registry;                               // compares the buckets of a histogram asked again
  std::shared_ptr<const std::vector<double>> bounds_;  // histograms only
  std::vector<std::string> le_;                        // histograms only: the bounds as `le` values
  std::map<std::vector<std::string>, Child> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

/// The metric families of an application. Share one registry between the engine, Srf, the
/// ARI clients and Mrf (each takes it in its options), and serve it with util::HttpExporter.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// The family of that name: made on first use; asked again with the same type, help and
  /// label names, the same family. A clash (another type or labels) or an invalid name
  /// throws std::invalid_argument.
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  /// The gauge family of that name (as counter()).
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  /// `buckets`: upper bounds, strictly increasing (+Inf is added).
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> buckets,
                             std::vector<std::string> label_names = {});

  /// Every family in the text exposition format 0.0.4, sorted by name.
  [[nodiscard]] std::string expose() const;
  /// The same, appended to `out` (a scrape reuses its buffer).
  void expose(std::string& out) const;

  /// The Content-Type of expose()'s text.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  template <typename F>
  F& family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
            std::shared_ptr<const std::vector<double>> bounds);
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;
  mutable std::size_t last_size_{0};  // the last exposition's length (under mutex_): the next one's reserve
};

/// `value` escaped for a label value (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);
/// A sample value as Prometheus writes it: integers without a fraction, +Inf, -Inf, NaN.
std::string format_value(double value);

}  // namespace astmrf::util::metrics
