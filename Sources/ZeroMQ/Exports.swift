// Frames, receive limits and mailboxes are the transport's vocabulary, which ZeroMQ's API speaks:
// whoever imports ZeroMQ gets them.
@_exported import Transport
