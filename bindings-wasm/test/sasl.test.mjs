// Known-answer SASL vectors shared by every language (testdata/sasl/vectors.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { xoauth2, oauthbearer, decodeChallenge } from '../js/node.js';
import { REPO } from './helpers.mjs';

const vectors = JSON.parse(readFileSync(`${REPO}/testdata/sasl/vectors.json`, 'utf8'));

test('XOAUTH2 vectors', () => {
  assert.ok(vectors.xoauth2.length >= 3);
  for (const v of vectors.xoauth2) assert.equal(xoauth2(v.user, v.token), v.expected, v.source);
});

test('OAUTHBEARER vectors', () => {
  assert.ok(vectors.oauthbearer.length >= 3);
  for (const v of vectors.oauthbearer) assert.equal(oauthbearer(v.user, v.token, v.host, v.port), v.expected, v.source);
});

test('error challenges decode', () => {
  assert.ok(vectors.challenges.length >= 2);
  for (const v of vectors.challenges) {
    const c = decodeChallenge(v.base64);
    assert.equal(c.status, v.status, v.source);
    assert.equal(c.schemes, v.schemes ?? null, v.source);
    assert.equal(c.scope, v.scope ?? null, v.source);
    assert.equal(c.openidConfiguration, v.openid_configuration ?? null, v.source);
  }
  assert.throws(() => decodeChallenge('%%%not base64'), { name: 'ChallengeError' });
});
