import ArgumentParser

/// The CURVE key flag that `trainer server` and `trainer worker` share: this side's secret key file.
struct CurveSecretKeyOptions: ParsableArguments {
    @Option(help: "Encrypt and authenticate with CURVE: this side's secret key file from trainer keygen (the server's with --authorized-keys; a worker's with --curve-server-key, and the server must list its public key).")
    var curveSecretKey: String?
}
