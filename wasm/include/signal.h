/* wasi-libc has no signals, but liblzma's single-threaded mythread.h includes <signal.h> for
 * mythread_sigmask(), which only the multi-threaded encoder calls (not compiled here). */
#ifndef XG_SIGNAL_SHIM_H
#define XG_SIGNAL_SHIM_H
typedef unsigned int sigset_t;
static inline int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  (void)how; (void)set; (void)old;
  return 0;
}
#endif
