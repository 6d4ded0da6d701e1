"""Pure SMPP 3.4 protocol logic: wire codec, framing, bind states, window, session. No I/O."""
