import CMalloc
import WhittleCommands

// First, before any thread exists: every later thread inherits the blocked signals.
WhittleCommand.handleInterruptions()
// Memory: one malloc arena for every thread. glibc gives each new thread an arena of its
// own, which keeps what the thread freed until the process ends; whittle's other threads do
// short pieces of work (hashing, one half of a stage), so their arenas only added to the
// peak. And buffers of a quarter of a MiB or more are mapped on their own, so one freed
// goes back to the system at once; glibc would otherwise raise that threshold after the
// first such buffer is freed and keep later ones in the heap.
_ = mallopt(M_ARENA_MAX, 1)
_ = mallopt(M_MMAP_THRESHOLD, 256 << 10)
WhittleCommand.main()
