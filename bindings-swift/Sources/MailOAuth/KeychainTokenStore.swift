// A token store in the Keychain for `TokenCache.custom(store:)` (hand-written).

#if canImport(Security)
import Foundation
import Security

/// Keeps the token cache (it holds refresh tokens) in one generic-password Keychain item.
///
/// ```swift
/// let store = KeychainTokenStore(service: "com.example.mail")
/// let client = try PublicClient(clientId: id, cache: try TokenCache.custom(store: store))
/// ```
///
/// `accessible` defaults to `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`, so background
/// refreshes work while the device is locked and the item never leaves the device.
/// `useDataProtectionKeychain` (macOS) needs a signed app with a keychain-access-groups
/// entitlement; command-line tools keep the default `false` (the login keychain). Failures
/// throw `TokenStoreError.Failed` with the Keychain's message, and reach callers as
/// `MailOAuthError.Storage`.
public final class KeychainTokenStore: TokenStoreCallback, @unchecked Sendable {
    public let service: String
    public let account: String
    public let accessGroup: String?
    private let accessible: CFString
    private let useDataProtectionKeychain: Bool

    public init(
        service: String,
        account: String = "mailoauth-token-cache",
        accessGroup: String? = nil,
        accessible: CFString = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        useDataProtectionKeychain: Bool = false
    ) {
        self.service = service
        self.account = account
        self.accessGroup = accessGroup
        self.accessible = accessible
        self.useDataProtectionKeychain = useDataProtectionKeychain
    }

    private var itemQuery: [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        if useDataProtectionKeychain {
            query[kSecUseDataProtectionKeychain as String] = true
        }
        return query
    }

    public func load() throws -> Data? {
        var query = itemQuery
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data else {
                throw TokenStoreError.Failed(message: "Keychain item \(service)/\(account) holds no data")
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw TokenStoreError.Failed(message: "Keychain read of \(service)/\(account): \(Self.text(status))")
        }
    }

    public func save(data: Data) throws {
        let attributes: [String: Any] = [
            kSecValueData as String: data,
            kSecAttrAccessible as String: accessible,
        ]
        var status = SecItemUpdate(itemQuery as CFDictionary, attributes as CFDictionary)
        if status == errSecItemNotFound {
            let item = itemQuery.merging(attributes) { _, new in new }
            status = SecItemAdd(item as CFDictionary, nil)
        }
        guard status == errSecSuccess else {
            throw TokenStoreError.Failed(message: "Keychain write of \(service)/\(account): \(Self.text(status))")
        }
    }

    /// Deletes the item (sign every account out of this store).
    public func delete() throws {
        let status = SecItemDelete(itemQuery as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw TokenStoreError.Failed(message: "Keychain delete of \(service)/\(account): \(Self.text(status))")
        }
    }

    private static func text(_ status: OSStatus) -> String {
        let message = SecCopyErrorMessageString(status, nil) as String? ?? "unknown error"
        return "\(message) (OSStatus \(status))"
    }
}
#endif
