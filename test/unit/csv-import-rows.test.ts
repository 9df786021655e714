import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCsv } from '../../auth-service/src/cli/csv.js';
import { ImportFileError, parseImportFile } from '../../auth-service/src/cli/import-rows.js';

/** The CSV reader and the import file checks of `shardmq user import`. */

test('CSV: quotes, doubled quotes, commas and line breaks inside quotes, CRLF, BOM, blank lines', () => {
  const recs = parseCsv('\ufeffa,b\r\n"x,1","say ""hi"""\n\n"multi\nline",\n');
  assert.deepEqual(recs, [
    { line: 1, fields: ['a', 'b'] },
    { line: 2, fields: ['x,1', 'say "hi"'] },
    { line: 4, fields: ['multi\nline', ''] },
  ]);
  assert.throws(() => parseCsv('a,"open\n'), /not terminated/);
  assert.throws(() => parseCsv('"a"b,c'), /after a closing quote/);
});

test('import rows: defaults, both key spellings, ACL JSON linted', () => {
  const rows = parseImportFile('username,password,clientId\nu1,p1,\nu2,p2,c2\n', 'csv');
  assert.deepEqual(
    rows.map((r) => [r.username, r.clientId, r.mountpoint, r.publishAcl]),
    [
      ['u1', '*', '', null],
      ['u2', 'c2', '', null],
    ],
  );
  const j = parseImportFile(JSON.stringify([{ username: 'a', password: 'b', client_id: 'c', publish_acl: [{ pattern: 'x/#', max_qos: 1 }] }]), 'json');
  assert.equal(j[0]!.clientId, 'c');
  assert.equal(j[0]!.publishAcl, '[{"pattern":"x/#","max_qos":1}]');
  assert.throws(() => parseImportFile('username,password,colour\n', 'csv'), ImportFileError);
  assert.throws(() => parseImportFile('{"username":"a"}', 'json'), /array/);
  assert.throws(() => parseImportFile('[{"username":"a","password":5}]', 'json'), /password must be a string/);
});
