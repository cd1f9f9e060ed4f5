import ZeroMQ

/// A parameter server's CURVE settings: its own secret key and the workers' public keys it admits.
public typealias ServerSecurity = ZeroMQTransport.CurveServer

/// A worker's CURVE settings: the server's public key and the worker's own key pair.
public typealias WorkerSecurity = ZeroMQTransport.CurveClient
