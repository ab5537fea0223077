// A netlink socket for Node, and nothing about IPVS.
//
// What lives here is only what cannot live in TypeScript: the file descriptor,
// the system calls, and the threads that make blocking calls off the JS thread.
// Framing, attributes, sequence numbers and every protocol rule are TypeScript.
//
//   new Socket(protocol, { netns?, rcvbuf?, sndbuf? })
//   socket.portId                         the kernel-assigned netlink port id
//   socket.exchange(data, ends, recv, resume, timeoutMs)
//       -> Promise<{ used, done, partial }>
//                                         data holds request datagrams back to
//                                         back, ends (Uint32Array) their end
//                                         offsets. For each datagram (one or many
//                                         netlink messages): one sendmsg(), then
//                                         receive into `recv` until the kernel's
//                                         last answer to it. Returns early when
//                                         `recv` is nearly full: `done` datagrams
//                                         were answered in full, `partial` says
//                                         the next one's answer has begun (call
//                                         again with resume=true and ends from
//                                         it on; it is not sent again).
//   socket.close()
//   isatty(fd) -> boolean                  isatty(3), for commands that would
//                                         otherwise make process.stderr (and
//                                         load node:net) only to ask
//   setV8Flags(flags) -> undefined          V8 flags for the command's own
//                                         process, without loading node:v8
//                                         (see below); the library never
//                                         calls it
//   readText(path) -> string               a file's bytes as a latin1 string, read
//                                         into memory the string then owns (see
//                                         below); throws an errno Error
//   keepFreedMemory() -> boolean          glibc malloc settings for short-lived
//                                         commands (see below); the library
//                                         never calls it
//
// exchange() is the one place this file reads netlink framing: it must know
// where the answer to a buffer ends, which is an NLMSG_DONE or NLMSG_ERROR
// carrying the sequence number of the buffer's last message. Doing the whole
// conversation on one worker thread is what makes bulk loads and full dumps
// fast: a thread-pool round trip per dump costs more than the dump itself
// (bench/, under User-Mode Linux). Everything else about the replies,
// including matching every message to its request, is TypeScript.
//   readFile(path, netns?, into?) -> Promise<Buffer | number>
//                                         reads a file from a thread that has
//                                         entered the given network namespace
//                                         (/proc/thread-self/net/... shows it);
//                                         with `into` (a Buffer), reads into it
//                                         and resolves with the byte count (the
//                                         whole buffer: there may be more)
//
// Failures reject with an Error whose `errno` is the positive errno number and
// whose `syscall` names the call; the TypeScript layer gives them meaning.

#include <napi.h>
#include <v8.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace {

// The largest datagram the kernel sends on a netlink socket is a dump chunk of
// at most 32 KiB (netlink_dump caps max_recvmsg_len); 64 KiB leaves room.
constexpr size_t kDatagramMax = 64 * 1024;

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Runs fn on a short-lived thread that first joins the network namespace at
// `path`; the namespace change dies with that thread, so no other thread of
// the process ever sees it. Returns 0 or an errno (and sets *failed_call).
template <typename Fn>
int InNetns(const std::string& path, const char** failed_call, Fn fn) {
  int result = 0;
  std::thread t([&] {
    int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      result = errno;
      *failed_call = "open(netns)";
      return;
    }
    if (setns(nsfd, CLONE_NEWNET) != 0) {
      result = errno;
      *failed_call = "setns";
      close(nsfd);
      return;
    }
    close(nsfd);
    result = fn(failed_call);
  });
  t.join();
  return result;
}

struct SocketState {
  int fd = -1;
  int wake_fd = -1;           // eventfd: close() wakes a blocked recv
  std::atomic<int> users{0};  // async workers currently using fd
  std::atomic<bool> closing{false};

  void ReleaseIfDone() {
    if (closing.load() && users.load() == 0) {
      if (fd >= 0) close(fd);
      if (wake_fd >= 0) close(wake_fd);
      fd = wake_fd = -1;
    }
  }
};

// Sequence number of the last message in a buffer of netlink messages, or
// false when the buffer holds no well-formed message.
bool LastSeq(const uint8_t* p, size_t len, uint32_t* seq) {
  size_t off = 0;
  bool found = false;
  while (off + sizeof(struct nlmsghdr) <= len) {
    struct nlmsghdr h;
    memcpy(&h, p + off, sizeof(h));
    if (h.nlmsg_len < sizeof(struct nlmsghdr) || off + h.nlmsg_len > len) break;
    *seq = h.nlmsg_seq;
    found = true;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return found;
}

// True when the datagram holds the terminal answer (DONE or ERROR) for seq.
bool HasTerminal(const uint8_t* p, size_t len, uint32_t seq) {
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    struct nlmsghdr h;
    memcpy(&h, p + off, sizeof(h));
    if (h.nlmsg_len < sizeof(struct nlmsghdr) || off + h.nlmsg_len > len) return false;
    if (h.nlmsg_seq == seq && (h.nlmsg_type == NLMSG_DONE || h.nlmsg_type == NLMSG_ERROR)) return true;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return false;
}

class ExchangeWorker : public Napi::AsyncWorker {
 public:
  ExchangeWorker(Napi::Env env, std::shared_ptr<SocketState> state, Napi::Buffer<uint8_t> data,
                 Napi::Uint32Array ends, Napi::Buffer<uint8_t> recv, bool resume, int timeout_ms)
      : Napi::AsyncWorker(env),
        state_(std::move(state)),
        deferred_(Napi::Promise::Deferred::New(env)),
        resume_(resume),
        timeout_ms_(timeout_ms),
        recv_(recv.Data()),
        recv_cap_(recv.Length()) {
    data_ref_ = Napi::Persistent(data);
    recv_ref_ = Napi::Persistent(recv);
    size_t start = 0;
    for (size_t i = 0; i < ends.ElementLength(); i++) {
      size_t end = ends[i];
      requests_.push_back({data.Data() + start, end - start});
      start = end;
    }
    state_->users++;
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    for (size_t i = 0; i < requests_.size(); i++) {
      const auto& req = requests_[i];
      uint32_t last = 0;
      if (!LastSeq(req.first, req.second, &last)) {
        Fail(EINVAL, "exchange");
        return;
      }
      if (!(i == 0 && resume_)) {
        struct iovec iov = {req.first, req.second};
        struct msghdr msg = {};
        msg.msg_name = &kernel;
        msg.msg_namelen = sizeof(kernel);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        ssize_t n;
        do {
          n = sendmsg(state_->fd, &msg, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
          Fail(errno, "sendmsg");
          return;
        }
      }
      // Receive until the terminal answer. Try without waiting first: the
      // kernel answers a "do" and runs a dump's first pass inside sendmsg(),
      // and queues a dump's next part inside the recvmsg() that drains the
      // previous one, so poll() is needed only when the queue is empty. (A
      // poll() costs as much as the recv() under User-Mode Linux.)
      for (bool done = false; !done;) {
        if (recv_cap_ - used_ < kDatagramMax) {
          // The caller's buffer is full: hand it over mid-answer. The kernel
          // keeps a dump's state until we read again.
          partial_ = true;
          return;
        }
        // Two datagrams a call when there is room for both: the kernel
        // queues a dump's next part (a small dump's DONE) inside the
        // recvmsg() that drains the part before it, so recvmmsg() takes
        // both, and a dump costs two system calls instead of three (under
        // User-Mode Linux each is tens of microseconds; a save or restore
        // reads thousands of dumps).
        uint8_t* tail = recv_ + used_;
        const bool two = recv_cap_ - used_ >= 2 * kDatagramMax;
        struct iovec iov[2] = {{tail, kDatagramMax}, {tail + kDatagramMax, kDatagramMax}};
        struct mmsghdr mm[2] = {};
        for (int k = 0; k < 2; k++) {
          mm[k].msg_hdr.msg_iov = &iov[k];
          mm[k].msg_hdr.msg_iovlen = 1;
        }
        int count = recvmmsg(state_->fd, mm, two ? 2 : 1, MSG_DONTWAIT | MSG_TRUNC, nullptr);
        if (count < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            // ENOBUFS: the kernel dropped answers; the caller must know.
            Fail(errno, "recv");
            return;
          }
          struct pollfd fds[2] = {{state_->fd, POLLIN, 0}, {state_->wake_fd, POLLIN, 0}};
          int r;
          do {
            r = poll(fds, 2, timeout_ms_);
          } while (r < 0 && errno == EINTR);
          if (r < 0) {
            Fail(errno, "poll");
            return;
          }
          if (r == 0) {
            Fail(ETIMEDOUT, "recv");
            return;
          }
          if ((fds[1].revents & POLLIN) || state_->closing.load()) {
            Fail(EBADF, "closed");
            return;
          }
          continue;
        }
        // Packed back to back, as one recv() at a time would leave them (the
        // second moves down next to the first). Nothing follows a request's
        // terminal answer, but a second datagram is kept all the same: it
        // has left the socket.
        for (int k = 0; k < count; k++) {
          size_t got = mm[k].msg_len;
          if (got > kDatagramMax) {
            Fail(EMSGSIZE, "recv");
            return;
          }
          uint8_t* at = recv_ + used_;
          if (k == 1) memmove(at, tail + kDatagramMax, got);
          size_t end = used_ + NLMSG_ALIGN(got);
          for (size_t b = used_ + got; b < end; b++) recv_[b] = 0;
          used_ = end;
          if (HasTerminal(at, got, last)) done = true;
        }
      }
      done_++;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Done();
    Napi::Object out = Napi::Object::New(env);
    out.Set("used", Napi::Number::New(env, static_cast<double>(used_)));
    out.Set("done", Napi::Number::New(env, done_));
    out.Set("partial", Napi::Boolean::New(env, partial_));
    if (err_ != 0) {
      // What did arrive is in the caller's buffer and is described with the
      // error: answers that arrived must not be lost with it.
      Napi::Error e = ErrnoError(env, err_, call_);
      e.Set("used", out.Get("used"));
      e.Set("done", out.Get("done"));
      deferred_.Reject(e.Value());
    } else {
      deferred_.Resolve(out);
    }
  }
  void OnError(const Napi::Error& e) override {
    Done();
    deferred_.Reject(e.Value());
  }

 private:
  void Fail(int err, const char* call) {
    err_ = err;
    call_ = call;
  }
  void Done() {
    state_->users--;
    state_->ReleaseIfDone();
  }
  std::shared_ptr<SocketState> state_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Buffer<uint8_t>> data_ref_;
  Napi::Reference<Napi::Buffer<uint8_t>> recv_ref_;
  std::vector<std::pair<uint8_t*, size_t>> requests_;
  bool resume_;
  int timeout_ms_;
  uint8_t* recv_;
  size_t recv_cap_;
  size_t used_ = 0;
  uint32_t done_ = 0;
  bool partial_ = false;
  int err_ = 0;
  const char* call_ = "";
};

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Socket",
                       {InstanceAccessor<&Socket::PortId>("portId"),
                        InstanceMethod<&Socket::Exchange>("exchange"),
                        InstanceMethod<&Socket::Close>("close")});
  }

  explicit Socket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Socket>(info) {
    Napi::Env env = info.Env();
    state_ = std::make_shared<SocketState>();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "Socket(protocol, options?)").ThrowAsJavaScriptException();
      return;
    }
    int protocol = info[0].As<Napi::Number>().Int32Value();
    std::string netns;
    int rcvbuf = 0, sndbuf = 0;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      if (o.Get("netns").IsString()) netns = o.Get("netns").As<Napi::String>().Utf8Value();
      if (o.Get("rcvbuf").IsNumber()) rcvbuf = o.Get("rcvbuf").As<Napi::Number>().Int32Value();
      if (o.Get("sndbuf").IsNumber()) sndbuf = o.Get("sndbuf").As<Napi::Number>().Int32Value();
    }

    const char* failed = "socket";
    int fd = -1;
    auto make = [&](const char** failed_call) -> int {
      fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
      if (fd < 0) {
        *failed_call = "socket";
        return errno;
      }
      return 0;
    };
    // A socket belongs to the namespace it was created in for its whole life.
    int err = netns.empty() ? make(&failed) : InNetns(netns, &failed, make);
    if (err != 0) {
      ErrnoError(env, err, failed).ThrowAsJavaScriptException();
      return;
    }

    // Best effort: the FORCE variants need CAP_NET_ADMIN, which an IPVS user
    // has anyway; without it the kernel caps the size at rmem_max/wmem_max.
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    int one = 1;
    // Extended ACK carries the kernel's error text; CAP_ACK stops it echoing
    // every failed request back to us. Both are optional (older kernels).
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

    struct sockaddr_nl local = {};
    local.nl_family = AF_NETLINK;
    socklen_t len = sizeof(local);
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&local), sizeof(local)) != 0 ||
        getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &len) != 0) {
      int e = errno;
      close(fd);
      ErrnoError(env, e, "bind").ThrowAsJavaScriptException();
      return;
    }
    int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0) {
      int e = errno;
      close(fd);
      ErrnoError(env, e, "eventfd").ThrowAsJavaScriptException();
      return;
    }
    state_->fd = fd;
    state_->wake_fd = wake;
    port_id_ = local.nl_pid;
  }

  ~Socket() override { Shutdown(); }

 private:
  Napi::Value PortId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), port_id_);
  }

  bool CheckOpen(Napi::Env env, Napi::Promise::Deferred& d) {
    if (state_->fd < 0 || state_->closing.load()) {
      d.Reject(ErrnoError(env, EBADF, "closed").Value());
      return false;
    }
    return true;
  }

  Napi::Value Exchange(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsBuffer() || !info[1].IsTypedArray() || !info[2].IsBuffer() ||
        !info[3].IsBoolean() || !info[4].IsNumber() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      Napi::TypeError::New(env, "exchange(data, ends: Uint32Array, recv, resume, timeoutMs)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    Napi::Uint32Array ends = info[1].As<Napi::Uint32Array>();
    Napi::Buffer<uint8_t> recvbuf = info[2].As<Napi::Buffer<uint8_t>>();
    size_t prev = 0;
    for (size_t i = 0; i < ends.ElementLength(); i++) {
      if (ends[i] <= prev || ends[i] > data.Length()) {
        Napi::RangeError::New(env, "exchange: ends must increase and stay within the data").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      prev = ends[i];
    }
    if (recvbuf.Length() < 2 * kDatagramMax) {
      Napi::RangeError::New(env, "exchange: the receive buffer must hold at least 128 KiB").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto d = Napi::Promise::Deferred::New(env);
    if (!CheckOpen(env, d)) return d.Promise();
    auto* w = new ExchangeWorker(env, state_, data, ends, recvbuf, info[3].As<Napi::Boolean>().Value(),
                                 info[4].As<Napi::Number>().Int32Value());
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (!state_ || state_->closing.exchange(true)) return;
    if (state_->wake_fd >= 0) {
      uint64_t one = 1;
      ssize_t ignored = write(state_->wake_fd, &one, sizeof(one));
      (void)ignored;
    }
    state_->ReleaseIfDone();
  }

  std::shared_ptr<SocketState> state_;
  uint32_t port_id_ = 0;
};

class ReadFileWorker : public Napi::AsyncWorker {
 public:
  ReadFileWorker(Napi::Env env, std::string path, std::string netns, Napi::Buffer<uint8_t>* into)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        netns_(std::move(netns)) {
    if (into) {
      into_ref_ = Napi::Persistent(*into);
      into_ = into->Data();
      into_cap_ = into->Length();
    }
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    auto read_all = [this](const char** failed_call) -> int {
      int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        *failed_call = "open";
        return errno;
      }
      std::vector<uint8_t> chunk(into_ ? 0 : 64 * 1024);
      for (;;) {
        uint8_t* dst = into_ ? into_ + used_ : chunk.data();
        size_t room = into_ ? into_cap_ - used_ : chunk.size();
        if (room == 0) break;  // the caller's buffer is full: it reads again with a bigger one
        ssize_t n = read(fd, dst, room);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          int e = errno;
          close(fd);
          *failed_call = "read";
          return e;
        }
        if (n == 0) break;
        if (into_)
          used_ += static_cast<size_t>(n);
        else
          data_.insert(data_.end(), chunk.begin(), chunk.begin() + n);
      }
      close(fd);
      return 0;
    };
    err_ = netns_.empty() ? read_all(&call_) : InNetns(netns_, &call_, read_all);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0)
      deferred_.Reject(ErrnoError(env, err_, call_).Value());
    else if (into_)
      deferred_.Resolve(Napi::Number::New(env, static_cast<double>(used_)));
    else
      deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, data_.data(), data_.size()));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_, netns_;
  std::vector<uint8_t> data_;
  Napi::Reference<Napi::Buffer<uint8_t>> into_ref_;
  uint8_t* into_ = nullptr;
  size_t into_cap_ = 0;
  size_t used_ = 0;
  int err_ = 0;
  const char* call_ = "";
};

Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString() || (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsBuffer())) {
    Napi::TypeError::New(env, "readFile(path, netns?, into?: Buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string netns;
  if (info.Length() > 1 && info[1].IsString()) netns = info[1].As<Napi::String>().Utf8Value();
  Napi::Buffer<uint8_t> into;
  bool has_into = info.Length() > 2 && info[2].IsBuffer();
  if (has_into) into = info[2].As<Napi::Buffer<uint8_t>>();
  auto* w = new ReadFileWorker(env, info[0].As<Napi::String>().Utf8Value(), netns, has_into ? &into : nullptr);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// A file's bytes as a latin1 string, for `ipvs restore FILE`. read into one
// malloc'd block that becomes the string's own memory: an external string
// (node_api_create_external_string_latin1, node >= 20.4, looked up at run
// time so that an older node still loads this addon and copies instead).
// fs.readFileSync(path, 'latin1') holds the bytes twice, a Buffer and the
// string's copy, and under User-Mode Linux each fresh page costs ~50 us: a
// 3.2 MB restore file is 800 pages of it.
using ExternalLatin1 = napi_status (*)(napi_env, char*, size_t, napi_finalize, void*, napi_value*, bool*);

// The first argument as a string; false after throwing a TypeError that shows `usage`.
bool StringArgument(const Napi::CallbackInfo& info, const char* usage, std::string* out) {
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return false;
  }
  *out = info[0].As<Napi::String>().Utf8Value();
  return true;
}

void FreeText(napi_env, void* data, void*) { free(data); }

Napi::Value ReadText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!StringArgument(info, "readText(path: string)", &path)) return env.Undefined();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct stat st;
  // Room for the whole of a regular file and one more byte, so that the read
  // that finds its end needs no more room; anything else grows as it comes.
  size_t cap = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0) + 4096;
  size_t used = 0;
  char* buf = static_cast<char*>(malloc(cap));
  int err = buf ? 0 : ENOMEM;
  while (err == 0) {
    if (used == cap) {
      char* bigger = static_cast<char*>(realloc(buf, cap * 2));
      if (!bigger) {
        err = ENOMEM;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  if (err != 0) {
    free(buf);
    ErrnoError(env, err, err == ENOMEM ? "malloc" : "read").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  static const auto external =
      reinterpret_cast<ExternalLatin1>(dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1"));
  napi_value out = nullptr;
  napi_status status;
  if (external != nullptr && used > 0) {
    bool copied = false;
    // On success the string owns buf (freed now if node chose to copy it).
    status = external(env, buf, used, FreeText, nullptr, &out, &copied);
    if (status != napi_ok) free(buf);
  } else {
    status = napi_create_string_latin1(env, buf, used, &out);
    free(buf);
  }
  if (status != napi_ok) {
    Napi::Error::New(env, "readText: the file is too long for a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Value(env, out);
}

// For short-lived commands only (the library never calls it): glibc keeps
// freed memory instead of returning it to the kernel, serves big blocks from
// its heap, and makes no more arenas (node's start-up has made a second one
// already, which its thread keeps: docs/cli.md, round H). Memory given back is
// faulted in again when next used, and under User-Mode Linux each fault
// costs ~50 us. True when glibc took every setting.
Napi::Value KeepFreedMemory(const Napi::CallbackInfo& info) {
  bool ok = false;
#ifdef __GLIBC__
  ok = mallopt(M_ARENA_MAX, 1) == 1;
  ok = (mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1) && ok;
  ok = (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1) && ok;  // glibc's largest (64-bit)
#endif
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value IsATty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "isatty(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Boolean::New(env, isatty(info[0].As<Napi::Number>().Int32Value()) == 1);
}

// V8's own entry point for flags: what node:v8's setFlagsFromString() calls,
// without loading node:v8 (its JavaScript costs a command ~25 ms of start-up
// under UML, more than the whole of some ipvsadm runs).
Napi::Value SetV8Flags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string flags;
  if (!StringArgument(info, "setV8Flags(flags: string)", &flags)) return env.Undefined();
  v8::V8::SetFlagsFromString(flags.c_str(), flags.size());
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Socket", Socket::Init(env));
  exports.Set("readFile", Napi::Function::New(env, ReadFile, "readFile"));
  exports.Set("isatty", Napi::Function::New(env, IsATty, "isatty"));
  exports.Set("readText", Napi::Function::New(env, ReadText, "readText"));
  exports.Set("setV8Flags", Napi::Function::New(env, SetV8Flags, "setV8Flags"));
  exports.Set("keepFreedMemory", Napi::Function::New(env, KeepFreedMemory, "keepFreedMemory"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ipvs_native, Init)
