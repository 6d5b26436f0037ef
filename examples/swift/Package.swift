// swift-tools-version:5.9
// Examples of the MailOAuth Swift package (../../bindings-swift; on Apple platforms build its
// XCFramework first with ../../bindings-swift/build-xcframework.sh, on Linux its Rust library
// with `cargo build -p mailoauth-ffi`):
//   mailoauth-example   a command-line tool (macOS, Linux): device-code sign-in kept in the
//                       Keychain (a token file on Linux), then an IMAP login that keeps using
//                       the session
//   BrowserSignIn       for iOS (and macOS) apps: the split authorization-code flow driven by
//                       ASWebAuthenticationSession (an empty module where that does not exist)
import PackageDescription

// Complete strict-concurrency checking, as in the MailOAuth package.
let strict: [SwiftSetting] = [.enableExperimentalFeature("StrictConcurrency")]

let package = Package(
    name: "MailOAuthExamples",
    platforms: [
        .macOS(.v12),
        .iOS(.v15),
    ],
    products: [
        .executable(name: "mailoauth-example", targets: ["mailoauth-example"]),
        .library(name: "BrowserSignIn", targets: ["BrowserSignIn"]),
    ],
    dependencies: [
        .package(path: "../../bindings-swift"),
    ],
    targets: [
        .executableTarget(
            name: "mailoauth-example",
            dependencies: [.product(name: "MailOAuth", package: "bindings-swift")],
            path: "Sources/mailoauth-example",
            swiftSettings: strict
        ),
        .target(
            name: "BrowserSignIn",
            dependencies: [.product(name: "MailOAuth", package: "bindings-swift")],
            path: "Sources/BrowserSignIn",
            swiftSettings: strict
        ),
    ],
    swiftLanguageVersions: [.v5]
)
