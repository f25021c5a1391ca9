package hugepage

import "syscall"

const madvHugepage = 14 // MADV_HUGEPAGE, linux/mman.h

func advise(b []byte) { _ = syscall.Madvise(b, madvHugepage) }
