import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certIdentity } from '../../gateway/src/cert-identity.js';

/** Which name of a client certificate becomes the user name (mqtt.tlsCertIdentityAsUsername). */

test('cn: the subject Common Name, the first of several', () => {
  assert.equal(certIdentity({ subject: { CN: 'device-17' } }, 'cn'), 'device-17');
  assert.equal(certIdentity({ subject: { CN: ['first', 'second'] } }, 'cn'), 'first');
  assert.equal(certIdentity({ subject: {} }, 'cn'), undefined);
  assert.equal(certIdentity({ subject: { CN: '' } }, 'cn'), undefined);
});

test('san: the first DNS, email or URI entry; IP addresses are skipped', () => {
  assert.equal(certIdentity({ subjectaltname: 'IP Address:10.0.0.1, DNS:device-42.example, email:ops@example.com' }, 'san'), 'device-42.example');
  assert.equal(certIdentity({ subjectaltname: 'email:ops@example.com' }, 'san'), 'ops@example.com');
  assert.equal(certIdentity({ subjectaltname: 'URI:spiffe://fleet/device/9' }, 'san'), 'spiffe://fleet/device/9');
  assert.equal(certIdentity({ subjectaltname: 'IP Address:10.0.0.1' }, 'san'), undefined);
  assert.equal(certIdentity({ subject: { CN: 'only-cn' } }, 'san'), undefined);
});

test('san: a JSON-quoted value (Node quotes values holding separators) is unquoted whole', () => {
  assert.equal(certIdentity({ subjectaltname: 'DNS:"a, b.example", DNS:c.example' }, 'san'), 'a, b.example');
  assert.equal(certIdentity({ subjectaltname: 'DNS:"broken' }, 'san'), undefined);
});
