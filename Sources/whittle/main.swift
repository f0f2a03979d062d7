import WhittleCommands

// First, before any thread exists: every later thread inherits the blocked signals.
WhittleCommand.handleInterruptions()
WhittleCommand.main()
