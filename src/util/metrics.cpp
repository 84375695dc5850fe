#include <astmrf/util/metrics.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace astmrf::util::metrics {

namespace {

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  auto first = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  };
  if (!first(name.front())) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return first(c) || (c >= '0' && c <= '9'); });
}

// Appends `text` with backslash and newline escaped (HELP text); with `quote`, the double
// quote too (label values).
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

// Drops the children only the family holds: their owner is gone.
template <typename Map>
void prune(Map& children) {
  std::erase_if(children, [](const auto& entry) { return entry.second.metric.use_count() == 1; });
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  append_escaped(out, value, true);
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);  // shortest text that reads back as the same double
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  const auto& bounds = *bounds_;
  // Few buckets: a linear scan beats a binary search.
  std::size_t i = 0;
  while (i < bounds.size() && value > bounds[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;  // from the buckets, so that +Inf and _count always agree
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

FamilyBase::FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {
  if (!valid_name(name_, true)) throw std::invalid_argument("metrics: invalid metric name '" + name_ + "'");
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    const auto& label = label_names_[i];
    if (!valid_name(label, false) || label.starts_with("__")) {
      throw std::invalid_argument("metrics: invalid label name '" + label + "' of " + name_);
    }
    if (type_ == Type::histogram && label == "le") {
      throw std::invalid_argument("metrics: 'le' is reserved in histogram " + name_);
    }
    if (std::find(label_names_.begin(), label_names_.begin() + static_cast<std::ptrdiff_t>(i), label) !=
        label_names_.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw std::invalid_argument("metrics: label '" + label + "' given twice to " + name_);
    }
  }
  header_ = "# HELP " + name_ + " ";
  append_escaped(header_, help_, false);
  header_ += "\n# TYPE " + name_ + " " + std::string(type_name(type_)) + "\n";
}

void FamilyBase::check_arity(std::size_t values) const {
  if (values != label_names_.size()) {
    throw std::invalid_argument(
        fmt::format("metrics: {} takes {} label value(s), not {}", name_, label_names_.size(), values));
  }
}

std::string FamilyBase::label_text(const std::vector<std::string>& values) const {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += label_names_[i];
    text += "=\"";
    append_escaped(text, values[i], true);
    text += '"';
  }
  return text;
}

void FamilyBase::write_series(std::string& out, std::string_view suffix, std::string_view labels,
                              std::string_view le) const {
  out += name_;
  out += suffix;
  if (!labels.empty() || !le.empty()) {
    out += '{';
    out += labels;
    if (!le.empty()) {
      if (!labels.empty()) out += ',';
      out += "le=\"";
      out += le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
                       std::shared_ptr<const std::vector<double>> bounds)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), bounds_(std::move(bounds)) {
  if (bounds_) {
    for (double bound : *bounds_) le_.push_back(format_value(bound));
  }
}

template <>
void Family<Counter>::write(std::string& out) {
  write_header(out);
  std::lock_guard lock(mutex_);
  prune(children_);
  for (const auto& [values, child] : children_) {
    write_series(out, "", child.labels);
    fmt::format_to(std::back_inserter(out), "{}\n", child.metric->value());
  }
}

template <>
void Family<Gauge>::write(std::string& out) {
  write_header(out);
  std::lock_guard lock(mutex_);
  prune(children_);
  for (const auto& [values, child] : children_) {
    write_series(out, "", child.labels);
    out += format_value(child.metric->value());
    out += '\n';
  }
}

template <>
void Family<Histogram>::write(std::string& out) {
  write_header(out);
  std::lock_guard lock(mutex_);
  prune(children_);
  for (const auto& [values, child] : children_) {
    const auto snap = child.metric->snapshot();
    for (std::size_t i = 0; i < le_.size(); ++i) {
      write_series(out, "_bucket", child.labels, le_[i]);
      fmt::format_to(std::back_inserter(out), "{}\n", snap.cumulative[i]);
    }
    write_series(out, "_bucket", child.labels, "+Inf");
    fmt::format_to(std::back_inserter(out), "{}\n", snap.count);
    write_series(out, "_sum", child.labels);
    out += format_value(snap.sum);
    out += '\n';
    write_series(out, "_count", child.labels);
    fmt::format_to(std::back_inserter(out), "{}\n", snap.count);
  }
}

template <typename F>
F& Registry::family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
                    std::shared_ptr<const std::vector<double>> bounds) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<F*>(it->second.get());
    if (existing == nullptr || existing->type() != type || existing->label_names() != label_names) {
      throw std::invalid_argument("metrics: " + name + " is registered already with another type or labels");
    }
    if constexpr (std::is_same_v<F, HistogramFamily>) {
      if (*existing->bounds_ != *bounds) {
        throw std::invalid_argument("metrics: " + name + " is registered already with other buckets");
      }
    }
    return *existing;
  }
  std::unique_ptr<F> made;
  if constexpr (std::is_same_v<F, HistogramFamily>) {
    made = std::make_unique<F>(name, std::move(help), type, std::move(label_names), std::move(bounds));
  } else {
    made = std::make_unique<F>(name, std::move(help), type, std::move(label_names));
  }
  auto& ref = *made;
  families_.emplace(std::move(name), std::move(made));
  return ref;
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return family<CounterFamily>(std::move(name), std::move(help), Type::counter, std::move(label_names), nullptr);
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return family<GaugeFamily>(std::move(name), std::move(help), Type::gauge, std::move(label_names), nullptr);
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<double> buckets,
                                     std::vector<std::string> label_names) {
  if (buckets.empty()) throw std::invalid_argument("metrics: histogram " + name + " needs at least one bucket");
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      throw std::invalid_argument("metrics: the buckets of " + name + " must be finite and strictly increasing");
    }
  }
  auto bounds = std::make_shared<const std::vector<double>>(std::move(buckets));
  auto& f = family<HistogramFamily>(std::move(name), std::move(help), Type::histogram, std::move(label_names), bounds);
  return f;
}

std::string Registry::expose() const {
  std::string out;
  expose(out);
  return out;
}

void Registry::expose(std::string& out) const {
  std::lock_guard lock(mutex_);
  out.reserve(out.size() + last_size_ + last_size_ / 8);
  const auto start = out.size();
  for (const auto& [name, family] : families_) family->write(out);
  last_size_ = out.size() - start;
}

}  // namespace astmrf::util::metrics
