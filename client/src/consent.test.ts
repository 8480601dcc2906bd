/** The volunteer's consent: when it is asked, what the page says, and the keys an organiser's room ignores. */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG, estimateCost, parseRunConfig, type ConsentStatus, type RoomOffer } from '@tabswarm/shared/protocol';
import { ConsentGate, consentReasons, ignoredKeys, type ConsentRequest } from './consent.ts';
import { consentLines } from './consent-panel.ts';
import { STORY_BYTES } from './page-tasks.ts';
import { describeRoomOwner } from './ui.ts';

const light: RoomOffer = { room: 'lab', config: { ...DEFAULT_CONFIG }, cost: estimateCost(DEFAULT_CONFIG), organised: false, members: 2 };
const heavyConfig = parseRunConfig({ model: 'cnn', batchSize: '512', evalSize: '10000', evalEvery: '10' });
const heavy: RoomOffer = { ...light, config: heavyConfig, cost: estimateCost(heavyConfig) };

test('asked in an organiser\'s room and for a heavy configuration, not in a light room of a first tab', () => {
  assert.deepEqual(consentReasons(light), []);
  assert.deepEqual(consentReasons({ ...light, organised: true }), ['an organiser runs this room']);
  const reasons = consentReasons(heavy);
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /^a heavy configuration: .*x the default work per step/);
});

test('the keys a room ignores: those whose value differs from the room\'s, numbers compared as numbers', () => {
  const config = parseRunConfig({ model: 'mlp', compressor: 'powersgd', lr: '0.001', steps: '60' });
  assert.deepEqual(ignoredKeys({ room: 'x', model: 'cnn', compressor: 'none', lr: '1e-3', steps: '60', join: 'ok' }, config), ['model', 'compressor']);
  assert.deepEqual(ignoredKeys({}, config), []);
});

test('the gate asks once per configuration, keeps the answer, and says no when closed meanwhile', async () => {
  const asked: ConsentRequest[] = [];
  let answer = true;
  let changes = 0;
  const gate = new ConsentGate((request) => {
    asked.push(request);
    return Promise.resolve(answer);
  }, () => { changes += 1; });
  const open = new AbortController().signal;
  // A function, so that one assertion's narrowing does not stick to the getter's next answer.
  const statusOf = (): ConsentStatus | null => gate.status;
  assert.equal(await gate.agree(light, open), true, 'nothing to ask');
  assert.equal(statusOf(), null, 'nothing was asked');
  const organised = { ...light, organised: true };
  assert.equal(await gate.agree(organised, open), true);
  assert.equal(await gate.agree(organised, open), true);
  assert.equal(asked.length, 1, 'the same configuration is not asked about twice');
  // 60,000 / 3 members' images plus the 1,000 test images, the labels and headers.
  assert.equal(asked[0]!.downloadBytes, (20_000 + 1000) * 784 + 70_048);
  assert.deepEqual(statusOf(), { state: 'given', reasons: ['an organiser runs this room'], downloadBytes: (20_000 + 1000) * 784 + 70_048 });
  assert.ok(changes >= 2, 'asking and answering are shown');
  answer = false;
  assert.equal(await gate.agree(heavy, open), false, 'a heavier room is asked about again');
  assert.equal(statusOf()?.state, 'declined');
  assert.equal(asked.length, 2);
  const empty = { ...organised, members: 0, config: { ...organised.config, workers: 4, seed: 7 } };
  answer = true;
  await gate.agree(empty, open);
  assert.equal(asked[2]!.downloadBytes, (15_000 + 1000) * 784 + 70_048, 'an empty room of workers=4: a quarter of the set');

  const closing = new AbortController();
  const never = new ConsentGate(() => new Promise<boolean>(() => {}), () => {});
  const pending = never.agree(heavy, closing.signal);
  closing.abort(new Error('closed'));
  assert.equal(await pending, false);
  assert.equal(await new ConsentGate(undefined, () => {}).agree(heavy, open), true, 'nobody to ask (a Node worker): yes');
});

test('the page says the model, that the data stays in the tab, the download, the compute, and the ignored keys', () => {
  const organised: RoomOffer = { ...light, organised: true, config: parseRunConfig({ compressor: 'powersgd' }) };
  const lines = consentLines({ offer: organised, reasons: consentReasons(organised), downloadBytes: 16_534_048, ownData: false }, ['model', 'compressor']);
  assert.equal(lines[0], 'Model: a small multilayer perceptron (203,530 weights), trained for 500 steps on MNIST handwritten digits.');
  assert.match(lines[1]!, /^The data stays in this tab: it downloads about 15\.77 MiB of MNIST and trains on it here\. Only model updates \(compressed with powersgd\)/);
  assert.match(lines[2]!, /^Compute: about \d+ MFLOP per step \(1x the default\)/);
  assert.equal(lines[3], 'An organiser set this room\'s configuration: this link\'s model, compressor are ignored.');
  assert.equal(lines.at(-1), 'Leave stops training and leaves the room, now or at any time.');
  assert.equal(describeRoomOwner({ organised: true, ignoredKeys: ['model'] }), 'An organiser set this room\'s configuration: this tab\'s model is ignored.');
  assert.equal(describeRoomOwner({ organised: false, ignoredKeys: ['model'] }), '');
});

test('with data=local the gate counts no shard, and the page says the files stay in the tab and only the test set is downloaded', async () => {
  const asked: ConsentRequest[] = [];
  const gate = new ConsentGate((request) => {
    asked.push(request);
    return Promise.resolve(true);
  }, () => {}, true);
  const organised: RoomOffer = { ...light, organised: true };
  assert.equal(await gate.agree(organised, new AbortController().signal), true);
  // The 1,000 test images, the labels and headers: no training images.
  assert.equal(asked[0]!.downloadBytes, 1000 * 784 + 70_048);
  assert.equal(asked[0]!.ownData, true);
  const lines = consentLines(asked[0]!, []);
  assert.equal(lines[0], 'Model: a small multilayer perceptron (203,530 weights), trained for 500 steps on the files you choose next, with the other members\' data.');
  assert.match(lines[1]!, /^Your files stay in this tab: it reads them here and downloads only about 834\.0 KiB of MNIST's test set, to measure accuracy\. Only model updates \(uncompressed\) go to the other tabs of room lab/);
  assert.ok(!lines.join(' ').includes('handwritten'), 'nothing says it trains on MNIST');
});

test('a page task\'s room: the page names its data and what it downloads of it, and never MNIST', async () => {
  const asked: ConsentRequest[] = [];
  const gate = (ownData: boolean): ConsentGate => new ConsentGate((request) => {
    asked.push(request);
    return Promise.resolve(true);
  }, () => {}, ownData);
  const room = (task: string): RoomOffer => {
    const config = parseRunConfig({ task });
    return { ...light, organised: true, config, cost: estimateCost(config) };
  };
  const open = new AbortController().signal;
  await gate(false).agree(room('spirals'), open);
  await gate(false).agree(room('char-lstm'), open);
  await gate(true).agree(room('spirals'), open);
  assert.deepEqual(asked.map((r) => r.downloadBytes), [0, STORY_BYTES, 0]);
  const [spirals, story, ownSpirals] = asked.map((r) => consentLines(r, []));
  assert.match(spirals![0]!, /trained for 500 steps on points on three interleaved spirals, made in this tab\.$/);
  assert.match(spirals![1]!, /^The data stays in this tab: it is made here, and nothing is downloaded for it\. Only model updates/);
  assert.match(story![0]!, /on the characters of a short story\.$/);
  assert.match(story![1]!, /^The data stays in this tab: it downloads about 3\.7 KiB of it and trains on it here\./);
  assert.match(ownSpirals![1]!, /^Your files stay in this tab: it reads them here and measures accuracy on points on three interleaved spirals, made in this tab\. Only/);
  for (const line of [...spirals!, ...story!, ...ownSpirals!]) assert.ok(!/MNIST|handwritten/.test(line), line);
  // The figure the page gives is the story's size.
  assert.equal(STORY_BYTES, statSync(fileURLToPath(new URL('../../examples/src/char-rnn/lighthouse.txt', import.meta.url))).size);
});
