#!/usr/bin/env python3
"""Writes the boundary-value seed corpora under core/fuzz/seeds/<target>/ (run from core/)."""
import os, json, base64
root = 'fuzz/seeds'
def put(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(os.path.join(d, name), 'wb').write(data)
NUMS = {'zero':'0','negzero':'-0','neg1':'-1','day':'86400','day_plus1':'86401','i64max':'9223372036854775807',
        'i64min':'-9223372036854775808','i64max_plus1':'9223372036854775808','u64max':'18446744073709551615',
        'u64max_plus1':'18446744073709551616','1e308':'1e308','neg1e308':'-1e308','float':'3599.5',
        'str_i64max':'"9223372036854775807"','str_huge':'"99999999999999999999999"','str_neg':'" -5 "','null':'null','empty_str':'""'}
ESC = '"\\u001b[2J\\u001b]0;pwned\\u0007\\u202e\\r\\n"'
nest = '['*20000 + ']'*20000
# token answers
for n, v in NUMS.items():
    put('token', f'expires_in_{n}', '{"access_token":"tok","token_type":"Bearer","expires_in":%s,"refresh_in":%s}' % (v, v))
put('token', 'minimal', '{"access_token":"tok"}')
put('token', 'empty', '')
put('token', 'empty_object', '{}')
put('token', 'empty_access_token', '{"access_token":""}')
put('token', 'not_bearer', '{"access_token":"tok","token_type":"pop"}')
put('token', 'wrong_types', '{"access_token":1,"scope":[],"id_token":{}}')
put('token', 'error_escapes', '{"error":%s,"error_description":%s,"error_codes":[18446744073709551615,-1,1e308,50126],"correlation_id":%s}' % (ESC, ESC, ESC))
put('token', 'deep_nesting', '{"access_token":"tok","claims":%s}' % nest)
put('token', 'huge_scope', '{"access_token":"tok","scope":"%s"}' % ('s ' * 35000))
put('token', 'not_utf8', b'{"access_token":"\xff\xfe"}')
put('token', 'control_chars', '{"access_token":"t\\u0000k","scope":"\\u0000 \\u001b"}')
# device code answers
for n, v in NUMS.items():
    put('device_code', f'numbers_{n}', '{"device_code":"dc","user_code":"UC","expires_in":%s,"interval":%s}' % (v, v))
put('device_code', 'escapes', '{"device_code":"dc","user_code":%s,"verification_uri":%s,"message":%s}' % (ESC, ESC, ESC))
put('device_code', 'empty', '')
put('device_code', 'array', '[]')
put('device_code', 'deep_nesting', '{"device_code":"dc","user_code":"UC","message":%s}' % nest)
put('device_code', 'huge_message', '{"device_code":"dc","user_code":"UC","message":"%s"}' % ('m' * 70000))
# JWTs
def jwt(claims, pad=''):
    return 'eyJhbGciOiJub25lIn0.' + base64.urlsafe_b64encode(claims.encode()).decode().rstrip('=') + pad + '.sig'
for n, v in NUMS.items():
    put('jwt', f'exp_{n}', jwt('{"exp":%s,"aud":"https://outlook.office.com","scp":"IMAP.AccessAsUser.All","upn":"a@b"}' % v))
put('jwt', 'empty', '')
put('jwt', 'dots', '..')
put('jwt', 'padded', jwt('{"exp":1}', '=='))
put('jwt', 'aud_types', jwt('{"aud":[1,null,{}],"scp":[1,"x"],"roles":{},"upn":%s}' % ESC))
put('jwt', 'deep_nesting', jwt('{"aud":%s}' % nest))
put('jwt', 'not_object', jwt('[1,2]'))
put('jwt', 'bad_base64', 'a.@@@.c')
# cache documents
acct = '{"username":"a@b","email":null,"name":%s,"oid":null,"tid":null,"home_account_id":null}' % ESC
def entry(updated, exp, refresh='null'):
    return '{"environment":"https://login.microsoftonline.com","client_id":"c","tenant":"t","account":%s,"refresh_token":"rt","updated_at":%s,"access_tokens":[{"scopes":["s"],"secret":"at","expires_at":%s,"refresh_at":%s}]}' % (acct, updated, exp, refresh)
for n, v in NUMS.items():
    put('cache', f'numbers_{n}', '{"version":1,"entries":[%s]}' % entry(v, v, v))
for n in ['0', '2', '-1', '4294967296', '1e308', '"1"', 'null']:
    put('cache', f'version_{n.strip(chr(34))}', '{"version":%s,"entries":[]}' % n)
put('cache', 'empty', '')
put('cache', 'no_entries', '{"version":1}')
put('cache', 'entries_not_list', '{"version":1,"entries":{}}')
put('cache', 'deep_nesting', '{"version":1,"entries":%s}' % nest)
put('cache', 'huge_secret', '{"version":1,"entries":[%s]}' % entry('0', '0').replace('"at"', '"%s"' % ('a' * 70000)))
put('cache', 'not_utf8', b'{"version":1,"entries":[\xff]}')
# MSAL caches
def msal(exp, refresh='"0"', env='login.microsoftonline.com', secret='"rt"'):
    return ('{"Account":{"k":{"home_account_id":"h","environment":"%s","realm":"t","username":%s,"local_account_id":"o"}},'
            '"RefreshToken":{"k":{"home_account_id":"h","environment":"%s","client_id":"c","secret":%s}},'
            '"AccessToken":{"k":{"home_account_id":"h","environment":"%s","client_id":"c","secret":"at","target":"s","expires_on":%s,"refresh_on":%s}},'
            '"IdToken":{"k":{"home_account_id":"h","client_id":"c","secret":"%s"}}}') % (env, ESC, env, secret, env, exp, refresh, jwt('{"preferred_username":"a@b","oid":"o"}'))
for n, v in NUMS.items():
    put('msal', f'expires_on_{n}', msal(v, v))
put('msal', 'empty', '')
put('msal', 'no_sections', '{}')
put('msal', 'sections_wrong_type', '{"Account":[],"RefreshToken":1}')
put('msal', 'empty_secret', msal('"9999999999"', secret='""'))
put('msal', 'env_with_scheme', msal('"9999999999"', env='https://x'))
put('msal', 'env_escape', msal('"9999999999"', env='\\u001b[2J'))
put('msal', 'deep_nesting', '{"Account":%s}' % nest)
# authority URLs
for i, u in enumerate(['https://login.microsoftonline.com/common', 'http://127.0.0.1:8080/organizations', 'http://[::1]:1/t',
        'https://LOGIN.microsoftonline.us:443/tenant/', 'https://host:+443/t', 'https://a..b/t', 'https://host:0/t',
        'https://host:65536/t', 'https://host:99999999999999999999/t', 'https://0x7f.1/t', 'https://2130706433/t',
        'https://1.2.3/t', 'https://a.1/t', 'https://h/common/..', 'https://h/common/%2e%2e', 'https://h/a/./t', 'https://h\\x/t',
        'https://h/a\\b', 'https:///t', 'https://user@h/t', 'https://[0:0::1]/t', 'https://[::ffff:127.0.0.1]/t',
        'http://localhost/t', 'http://example.com/t', 'ftp://h/t', 'https://h/{t}', 'https://h/t?x#y', '', '://', 'https://']):
    put('authority_url', f'url_{i:02}', u)
# redirects
for i, r in enumerate(['http://localhost:1234/?code=c0de&state=st4te', 'http://localhost:1234/?code=c0de&state=other',
        'http://localhost:1234/?error=access_denied&error_description=%1B%5B2J', 'http://localhost:1234/?error=x&state=st4te&error_description=AADSTS99999999999999',
        'http://localhost:1234/#code=c0de&state=st4te', '?state=st4te', 'code=&state=st4te', 'code=a%ZZ&state=st4te',
        'state=st%34te&code=c', '', '#', '?', 'state=st4te&error=%E2%80%AE%1B&error_description=AADSTS50126%0D%0Afake',
        'http://localhost:1234/?' + 'a=b&' * 5000 + 'state=st4te&code=c']):
    put('redirect', f'redirect_{i:02}', r)
# SASL challenges
for i, c in enumerate(['eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=', '', '=', '{"status":"401"}',
        base64.b64encode(('{"status":%s,"schemes":%s,"scope":%s}' % (ESC, ESC, ESC)).encode()).decode(),
        base64.b64encode(nest.encode()).decode(), base64.b64encode(b'\xff\xfe').decode(), '@@@@']):
    put('challenge', f'challenge_{i:02}', c)
# logins: selector byte (protocol % 3, 4 = OAUTHBEARER, 8 = STARTTLS), 0xFF between reads
imap = b'* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n\xffa1 OK done\r\n'
smtp = b'220 hi\r\n\xff250-hi\r\n250 AUTH XOAUTH2\r\n\xff235 ok\r\n'
pop = b'+OK hi\r\n\xff+OK\r\nSASL XOAUTH2\r\n.\r\n\xff+OK\r\n'
for name, sel, data in [('imap', 0, imap), ('smtp', 1, smtp), ('pop3', 2, pop), ('imap_starttls', 8, b'* OK [CAPABILITY STARTTLS] hi\r\n\xffa1 OK begin\r\n* injected\r\n'),
        ('imap_literal', 0, b'* OK hi\r\n\xff* CAPABILITY {18446744073709551615}\r\n'), ('smtp_huge_multiline', 1, b'220 hi\r\n\xff' + b'250-x\r\n' * 12000),
        ('imap_challenge_escape', 4, b'* OK [CAPABILITY AUTH=OAUTHBEARER] hi\r\n\xff+ \x1b[2J\r\n\xffa1 NO \x1b]0;x\x07\r\n'), ('bytewise_pop3', 2, b'\xff'.join(bytes([b]) for b in pop.replace(b'\xff', b''))),
        ('empty', 0, b''), ('no_newline', 1, b'220' * 1000)]:
    put('login', name, bytes([sel]) + data)
