package tensor

import "syscall"

// osYield gives the core to another runnable thread, if there is one
// (sched_yield); Share's spinning waits call it now and then.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
