// Global functions: jinja2's range/dict/namespace (as transformers' sandbox defines them) and
// transformers' raise_exception and strftime_now.

#include <ctime>
#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/renderer.h"

namespace salut::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

using GlobalFn = Value (*)(Renderer&, const Args&);

class Builtin : public Callable {
 public:
  Builtin(const char* name, GlobalFn fn) : name_(name), fn_(fn) {}
  Value call(Renderer& r, const Args& args) const override { return fn_(r, args); }
  std::string repr() const override { return std::string("<function ") + name_ + ">"; }

 private:
  const char* name_;
  GlobalFn fn_;
};

Value g_range(Renderer&, const Args& args) {
  if (!args.keyword.empty()) fail("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) fail("range expected 1 to 3 arguments, got " + std::to_string(p.size()));
  int64_t start = 0, stop, step = 1;
  if (p.size() == 1) {
    stop = to_index(p[0], "range");
  } else {
    start = to_index(p[0], "range");
    stop = to_index(p[1], "range");
    if (p.size() == 3) step = to_index(p[2], "range");
  }
  if (step == 0) fail("range() arg 3 must not be zero");
  // The element count, computed without overflow.
  __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  __int128 magnitude = step > 0 ? step : -static_cast<__int128>(step);
  __int128 count = span <= 0 ? 0 : (span + magnitude - 1) / magnitude;
  if (count > kMaxRange)
    fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(kMaxRange) + ").");
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) items.emplace_back(start + i * step);
  return Value::range(std::move(items), start, stop, step);
}

// dict(*args, **kwargs): at most one mapping or iterable of pairs, then the keywords.
std::vector<std::pair<Value, Value>> dict_entries(const char* function, const Args& args) {
  if (args.positional.size() > 1)
    fail(std::string(function) + " expected at most 1 argument, got " + std::to_string(args.positional.size()));
  std::vector<std::pair<Value, Value>> entries;
  auto put = [&](Value key, Value value) {
    if (!is_hashable(key)) fail(std::string("unhashable type: '") + type_name(key) + "'");
    for (auto& [k, v] : entries)
      if (equal(k, key)) {
        v = std::move(value);
        return;
      }
    entries.emplace_back(std::move(key), std::move(value));
  };
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      entries = source.as_dict().entries;
    } else {
      for (const Value& pair : iterate(source)) {
        auto kv = iterate(pair);
        if (kv.size() != 2) fail("dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
        put(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.keyword) put(Value(k), v);
  return entries;
}

Value g_dict(Renderer&, const Args& args) { return Value::dict(dict_entries("dict", args)); }

Value g_namespace(Renderer& r, const Args& args) {
  NamespacePtr ns = r.new_namespace();
  for (auto& [k, v] : dict_entries("namespace", args)) {
    std::string name = py_str(k);
    if (k.is_string() && name.starts_with("_"))
      fail("Chat templates cannot store underscore-prefixed attributes on a namespace, but got " + string_repr(name) +
           ". Please rename the attribute.");
    ns->set(name, v);
  }
  return Value(ns);
}

// jinja2 defines these too; no chat template needs them, so they exist (`is defined`) but refuse to run.
Value g_unsupported(Renderer&, const Args&) { fail("cycler(), joiner() and lipsum() are not supported in chat templates"); }

Value g_raise_exception(Renderer&, const Args& args) {
  auto a = bind_args("raise_exception", args, {{"message"}});
  throw RaisedError(py_str(a[0]));
}

// datetime.now().strftime(format): the C library's strftime in local time, plus Python's %f.
Value g_strftime_now(Renderer& r, const Args& args) {
  auto a = bind_args("strftime_now", args, {{"format"}});
  if (!a[0].is_string()) fail("strftime() argument 1 must be str, not " + std::string(type_name(a[0])));
  auto now = r.now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  if (micros < 0) micros += 1000000;
  std::tm local{};
  localtime_r(&seconds, &local);
  std::string format;
  const std::string& in = a[0].as_string();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 1 < in.size() && in[i + 1] == 'f') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(micros));
      format += buf;
      ++i;
    } else if (in[i] == '%' && i + 1 < in.size() && in[i + 1] == '%') {
      format += "%%";
      ++i;
    } else {
      format += in[i];
    }
  }
  if (format.empty()) return Value("");
  std::string out(format.size() * 4 + 64, '\0');
  for (int attempt = 0; attempt < 8; ++attempt) {
    size_t n = std::strftime(out.data(), out.size(), ("\x01" + format).c_str(), &local);  // \x01: tell empty from too small
    if (n > 0) return Value(out.substr(1, n - 1));
    out.resize(out.size() * 4);
  }
  fail("strftime result too long");
}

}  // namespace

const Value* find_global(std::string_view name) {
  static const std::unordered_map<std::string_view, Value> globals = [] {
    std::unordered_map<std::string_view, Value> g;
    auto add = [&](const char* n, GlobalFn fn) { g.emplace(n, Value(CallablePtr(std::make_shared<Builtin>(n, fn)))); };
    add("range", g_range);
    add("dict", g_dict);
    add("namespace", g_namespace);
    add("raise_exception", g_raise_exception);
    add("strftime_now", g_strftime_now);
    add("cycler", g_unsupported);
    add("joiner", g_unsupported);
    add("lipsum", g_unsupported);
    return g;
  }();
  auto it = globals.find(name);
  return it == globals.end() ? nullptr : &it->second;
}

}  // namespace salut::jinja
