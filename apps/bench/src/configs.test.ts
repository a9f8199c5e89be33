import { describe, expect, it } from 'vitest';
import { builtinConfigs, configRegistry, parseConfigFile, selectConfigs, validateConfig } from './configs.js';

const custom = { name: 'mine', inputSize: 3, hiddenSize: 7, outputSize: 2, seqLen: 5, batchSize: 4 };

describe('config registry', () => {
  it("has the issue's configurations with their shapes", () => {
    const { P50, P100, P200, M, C } = builtinConfigs;
    expect([P50.seqLen, P100.seqLen, P200.seqLen]).toEqual([50, 100, 200]);
    expect([P100.inputSize, P100.hiddenSize, P100.outputSize, P100.batchSize, P100.head]).toEqual([
      6,
      50,
      4,
      20,
      'last-softmax',
    ]);
    expect([M.inputSize, M.hiddenSize, M.outputSize, M.seqLen, M.batchSize, M.head]).toEqual([
      88,
      300,
      88,
      100,
      16,
      'sigmoid',
    ]);
    expect([C.inputSize, C.hiddenSize, C.outputSize, C.seqLen, C.batchSize, C.head]).toEqual([
      50,
      512,
      50,
      100,
      32,
      'softmax',
    ]);
  });

  it('adds configs from a file and fills the optional fields', () => {
    const [c] = parseConfigFile(JSON.stringify(custom), 'x.json');
    expect(c).toMatchObject({
      ...custom,
      head: 'softmax',
      activation: 'tanh',
      inputKind: 'one-hot',
      maxNorm: 1,
    });
    const registry = configRegistry([c]);
    expect(selectConfigs(['P100', 'mine'], registry).map((x) => x.name)).toEqual(['P100', 'mine']);
    expect(parseConfigFile(JSON.stringify([custom, { ...custom, name: 'two' }]), 'x.json')).toHaveLength(2);
  });

  it('rejects an unknown name, listing the valid ones', () => {
    expect(() => selectConfigs(['P300'], configRegistry())).toThrow(
      /unknown config "P300"; valid names: P50, P100, P200, M, C, tiny/,
    );
  });

  it.each([
    ['{ not json', /not valid JSON/],
    ['[]', /empty array/],
    ['42', /expected an object/],
    [JSON.stringify({ ...custom, hiddenSize: 0 }), /"hiddenSize" must be a positive integer, got 0/],
    [JSON.stringify({ ...custom, seqLen: '100' }), /"seqLen" must be a positive integer, got "100"/],
    [
      JSON.stringify({ ...custom, batchSize: undefined }),
      /"batchSize" must be a positive integer, got nothing/,
    ],
    [
      JSON.stringify({ ...custom, head: 'softplus' }),
      /"head" must be one of last-softmax, softmax, last-linear, sigmoid, got "softplus"/,
    ],
    [JSON.stringify({ ...custom, activation: 'relu' }), /"activation" must be one of tanh, sigmoid/],
    [
      JSON.stringify({ ...custom, learningRate: -1 }),
      /"learningRate" must be a positive finite number, got -1/,
    ],
    [JSON.stringify({ ...custom, hidden: 5 }), /unknown field\(s\) hidden/],
    [JSON.stringify({ ...custom, name: '' }), /"name" must be a string/],
    [JSON.stringify([custom, custom]), /defines "mine" twice/],
  ])('rejects the malformed config file %s', (text, message) => {
    expect(() => parseConfigFile(text, 'bad.json')).toThrow(message);
  });

  it('says that clipNorm is now maxNorm', () => {
    expect(() => validateConfig({ ...builtinConfigs.tiny, clipNorm: 1 }, 'my.json')).toThrow(
      'my.json (config "tiny"): "clipNorm" is now "maxNorm"',
    );
  });

  it('names the file and the entry in errors', () => {
    expect(() =>
      parseConfigFile(JSON.stringify([custom, { ...custom, name: 'b', outputSize: 1.5 }]), 'f.json'),
    ).toThrow(/f\.json\[1\] \(config "b"\): "outputSize"/);
  });

  it('does not let a file redefine a built-in', () => {
    const [c] = parseConfigFile(JSON.stringify({ ...custom, name: 'P100' }), 'x.json');
    expect(() => configRegistry([c])).toThrow(/"P100" is built in/);
  });
});
