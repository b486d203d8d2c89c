// Result<T, E>: the subset of std::expected we use (C++20 on GCC 12 and clang 14 has none).
// When both compilers ship <expected>, this becomes an alias and call sites stay the same.
//
//   Result<UniqueFd> open_x();            // value or Errno
//   FUSEBPF_TRY(fd, open_x());            // declares `fd`, or returns the error
//   return fail(Errno::kNoEnt);           // the error path
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/errno.h"

namespace fusebpf {

template <typename E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  const E& error() const& { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <typename E>
Unexpected<E> fail(E error) {
  return Unexpected<E>(std::move(error));
}
// The current errno as an error; call right after a failed syscall.
inline Unexpected<Errno> fail_errno() { return Unexpected<Errno>(last_errno()); }

template <typename T, typename E = Errno>
class [[nodiscard]] Result {
 public:
  Result()
    requires std::is_default_constructible_v<T>
      : state_(std::in_place_index<0>) {}
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  template <typename U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Unexpected<E>>)
  Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  template <typename G>
  Result(Unexpected<G> error) : state_(std::in_place_index<1>, E(std::move(error).error())) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const E& error() const& { return std::get<1>(state_); }
  E&& error() && { return std::get<1>(std::move(state_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T other) const& { return has_value() ? value() : std::move(other); }

 private:
  std::variant<T, E> state_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <typename G>
  Result(Unexpected<G> error) : error_(E(std::move(error).error())), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const E& error() const& { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace fusebpf

#define FUSEBPF_CONCAT_INNER(a, b) a##b
#define FUSEBPF_CONCAT(a, b) FUSEBPF_CONCAT_INNER(a, b)

// FUSEBPF_TRY(decl, expr): evaluates expr (a Result); on error returns it from the enclosing
// function, otherwise declares `decl` initialised with the value. decl may be `auto x` or a name.
#define FUSEBPF_TRY(decl, expr)                                                  \
  auto FUSEBPF_CONCAT(fusebpf_try_, __LINE__) = (expr);                          \
  if (!FUSEBPF_CONCAT(fusebpf_try_, __LINE__).has_value())                       \
    return ::fusebpf::fail(std::move(FUSEBPF_CONCAT(fusebpf_try_, __LINE__)).error()); \
  auto decl = std::move(FUSEBPF_CONCAT(fusebpf_try_, __LINE__)).value()

// FUSEBPF_TRY_VOID(expr): for Result<void>.
#define FUSEBPF_TRY_VOID(expr)                                                   \
  do {                                                                           \
    auto fusebpf_try_void_ = (expr);                                             \
    if (!fusebpf_try_void_.has_value())                                          \
      return ::fusebpf::fail(std::move(fusebpf_try_void_).error());              \
  } while (0)
