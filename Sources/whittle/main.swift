import CMalloc
import WhittleCommands

// First, before any thread exists: every later thread inherits the blocked signals.
WhittleCommand.handleInterruptions()
// One malloc arena for every thread. glibc gives each new thread an arena of its own, which
// keeps what the thread freed until the process ends; whittle's other threads do short
// pieces of work (hashing, one half of a stage), so their arenas only added to peak memory.
_ = mallopt(M_ARENA_MAX, 1)
WhittleCommand.main()
