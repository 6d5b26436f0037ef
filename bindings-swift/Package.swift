// swift-tools-version:5.9
// The MailOAuth Swift package: the generated UniFFI bindings (Sources/MailOAuth/MailOAuth.swift),
// hand-written conveniences (Sources/MailOAuth/*.swift), and the Rust static library
// libmailoauth_ffi for iOS (device + simulator) and macOS as an XCFramework with the generated
// C header and module map (Headers/). Build the XCFramework first: ./build-xcframework.sh
import PackageDescription

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
        // libmailoauth_ffi.a per platform + Headers/ (MailOAuthFFI.h, module.modulemap),
        // made by build-xcframework.sh. Apps that consume a release instead use
        // .binaryTarget(name: "MailOAuthFFI", url: ..., checksum: ...) with the zip it prints.
        .binaryTarget(
            name: "MailOAuthFFI",
            path: "MailOAuthFFI.xcframework"
        ),
        .target(
            name: "MailOAuth",
            dependencies: ["MailOAuthFFI"],
            path: "Sources/MailOAuth",
            linkerSettings: [
                // rustls-native-certs (macOS trust store) and the Keychain store.
                .linkedFramework("Security"),
                .linkedFramework("CoreFoundation"),
                .linkedFramework("SystemConfiguration"),
            ]
        ),
        .testTarget(
            name: "MailOAuthTests",
            dependencies: ["MailOAuth"],
            path: "Tests/MailOAuthTests"
        ),
    ],
    swiftLanguageVersions: [.v5]
)
