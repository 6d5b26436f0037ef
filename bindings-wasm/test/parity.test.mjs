// The parity tables every language reads: core's full list of error kinds
// (testdata/parity/errors.json: each kind arrives as the JS error class of its row, with core's
// group, temporariness and a hint) and the mail server `login` dials (testdata/parity/servers.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { diagnose, errorKinds, errorOfKind, IdentityError, MailAuthError, StoreError, mailServer } from '../js/node.js';
import { REPO } from './helpers.mjs';

const table = JSON.parse(readFileSync(`${REPO}/testdata/parity/errors.json`, 'utf8'));

test('every core error kind has its class and group', () => {
  const rows = new Map();
  for (const section of ['identity', 'mail', 'store']) {
    for (const row of table[section]) rows.set(`${section}.${row.kind}`, row);
  }
  assert.deepEqual(errorKinds(), [...rows.keys()], "core's kinds and testdata/parity/errors.json differ");
  const groups = new Set(table.groups.map((g) => g.group));
  const classes = { IdentityError, MailAuthError, StoreError };
  for (const name of errorKinds()) {
    const row = rows.get(name);
    const section = name.split('.')[0];
    const e = errorOfKind(name);
    // Store failures reach callers of the client as IdentityError{kind: 'storage'}.
    assert.ok(e instanceof (section === 'store' ? IdentityError : classes[row.js]), name);
    assert.equal(e.kind, section === 'store' ? 'storage' : row.kind, name);
    assert.equal(e.group, row.group, name);
    assert.ok(groups.has(e.group), name);
    if ('temporary' in row) assert.equal(e.temporary, row.temporary, name);
    assert.ok(e.hint.length > 0, name);
  }
  // The JS stores' own error class carries the store kinds' group.
  assert.equal(new StoreError('corrupt', 'x').group, table.store[0].group);
  assert.throws(() => errorOfKind('mail.no_such_kind'), TypeError);
});

test('the server login dials, for every case of the servers table', () => {
  const { cases } = JSON.parse(readFileSync(`${REPO}/testdata/parity/servers.json`, 'utf8'));
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    const { protocol, ...options } = c.input;
    if (c.expect === null) {
      assert.throws(() => mailServer(protocol, options), (e) => e instanceof IdentityError && e.kind === 'configuration', JSON.stringify(c.input));
    } else {
      const got = mailServer(protocol, options);
      assert.deepEqual({ host: got.host, port: got.port, security: got.security }, c.expect, JSON.stringify(c.input));
    }
  }
});

test('diagnoses: the same cause and fix as the core for every case of the table', () => {
  const table = JSON.parse(readFileSync(`${REPO}/testdata/parity/diagnoses.json`, 'utf8'));
  assert.ok(table.cases.length >= 8);
  for (const c of table.cases) {
    const error = errorOfKind(`mail.${c.kind}`);
    error.protocol = c.protocol;
    assert.deepEqual(diagnose(error, c.token, c.user, { host: c.host, now: table.now }), { cause: c.cause, fix: c.fix }, c.name);
  }
  assert.throws(() => diagnose(errorOfKind('identity.invalid_grant'), 't', 'u'), TypeError);
});
