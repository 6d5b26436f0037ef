// swift-tools-version:5.9
// The MailOAuth Swift package: the generated UniFFI bindings (Sources/MailOAuth/MailOAuth.swift),
// hand-written conveniences (Sources/MailOAuth/*.swift), and the Rust library libmailoauth_ffi
// with the generated C header (Headers/MailOAuthFFI.h).
//
// - Apple platforms: the static library for iOS (device + simulator) and macOS as an XCFramework
//   with the header and module map (Headers/). Build it first: ./build-xcframework.sh
// - Linux: a system-library target (Linux/MailOAuthFFI/module.modulemap, the same header) linked
//   against the cargo-built shared library in MAILOAUTH_FFI_LIB_DIR, default ../target/debug
//   (`cargo build -p mailoauth-ffi`; use `--release` and point the variable at target/release
//   for a release build). The directory goes into the binaries' rpath.
import PackageDescription

#if os(Linux)
let ffiLibDir = Context.environment["MAILOAUTH_FFI_LIB_DIR"]
    ?? Context.packageDirectory + "/../target/debug"
let ffiTarget: Target = .systemLibrary(name: "MailOAuthFFI", path: "Linux/MailOAuthFFI")
let ffiLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-L", ffiLibDir, "-Xlinker", "-rpath", "-Xlinker", ffiLibDir]),
]
#else
// libmailoauth_ffi.a per platform + Headers/ (MailOAuthFFI.h, module.modulemap), made by
// build-xcframework.sh. Apps that consume a release instead use
// .binaryTarget(name: "MailOAuthFFI", url: ..., checksum: ...) with the zip it prints.
let ffiTarget: Target = .binaryTarget(name: "MailOAuthFFI", path: "MailOAuthFFI.xcframework")
let ffiLinkerSettings: [LinkerSetting] = [
    // rustls-native-certs (macOS trust store) and the Keychain store.
    .linkedFramework("Security"),
    .linkedFramework("CoreFoundation"),
    .linkedFramework("SystemConfiguration"),
]
#endif

// Complete strict-concurrency checking for the hand-written code and the generated code alike.
let strict: [SwiftSetting] = [.enableExperimentalFeature("StrictConcurrency")]

let package = Package(
    name: "MailOAuth",
    platforms: [
        .macOS(.v12),
        .iOS(.v15),
    ],
    products: [
        .library(name: "MailOAuth", targets: ["MailOAuth"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "MailOAuth",
            dependencies: ["MailOAuthFFI"],
            path: "Sources/MailOAuth",
            swiftSettings: strict,
            linkerSettings: ffiLinkerSettings
        ),
        .testTarget(
            name: "MailOAuthTests",
            dependencies: ["MailOAuth"],
            path: "Tests/MailOAuthTests",
            swiftSettings: strict
        ),
    ],
    swiftLanguageVersions: [.v5]
)
