import WhittleCommands

WhittleCommand.main()
