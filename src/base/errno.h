// Errno: the one error type file-system operations return. Its value is the positive errno;
// the FUSE layer negates it into out_header.error.
#pragma once

#include <cerrno>
#include <string_view>

namespace fusebpf {

enum class Errno : int {
  kOk = 0,
  kPerm = EPERM,
  kNoEnt = ENOENT,
  kIo = EIO,
  kBadF = EBADF,
  kAgain = EAGAIN,
  kNoMem = ENOMEM,
  kAcces = EACCES,
  kFault = EFAULT,
  kBusy = EBUSY,
  kExist = EEXIST,
  kXDev = EXDEV,
  kNoDev = ENODEV,
  kNotDir = ENOTDIR,
  kIsDir = EISDIR,
  kInval = EINVAL,
  kMFile = EMFILE,
  kNoTty = ENOTTY,
  kFBig = EFBIG,
  kNoSpc = ENOSPC,
  kRofs = EROFS,
  kMLink = EMLINK,
  kRange = ERANGE,
  kNameTooLong = ENAMETOOLONG,
  kNoSys = ENOSYS,
  kNotEmpty = ENOTEMPTY,
  kLoop = ELOOP,
  kNoData = ENODATA,
  kOverflow = EOVERFLOW,
  kNotSup = EOPNOTSUPP,
  kNotConn = ENOTCONN,
  kTimedOut = ETIMEDOUT,
  kStale = ESTALE,
  kIntr = EINTR,
  kProto = EPROTO,
  kTooBig = E2BIG,
  kSrch = ESRCH,
};

// The current errno as an Errno; call right after a failed syscall.
inline Errno last_errno() { return static_cast<Errno>(errno == 0 ? EIO : errno); }
inline Errno errno_from(int value) { return static_cast<Errno>(value < 0 ? -value : value); }
inline int errno_value(Errno e) { return static_cast<int>(e); }

// "ENOENT", or "E123" for values without a name.
std::string_view errno_name(Errno e);
// strerror() text.
std::string_view errno_message(Errno e);

}  // namespace fusebpf
