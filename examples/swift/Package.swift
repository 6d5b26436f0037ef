// swift-tools-version:5.9
// Examples of the MailOAuth Swift package (../../bindings-swift; build its XCFramework first
// with ../../bindings-swift/build-xcframework.sh):
//   mailoauth-example   a macOS command-line tool: device-code sign-in kept in the Keychain,
//                       then an IMAP login that keeps using the session
//   BrowserSignIn       for iOS (and macOS) apps: the split authorization-code flow driven by
//                       ASWebAuthenticationSession
import PackageDescription

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
            path: "Sources/mailoauth-example"
        ),
        .target(
            name: "BrowserSignIn",
            dependencies: [.product(name: "MailOAuth", package: "bindings-swift")],
            path: "Sources/BrowserSignIn"
        ),
    ],
    swiftLanguageVersions: [.v5]
)
