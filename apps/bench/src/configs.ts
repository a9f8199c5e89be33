/**
 * The benchmark configurations: named model shapes, extensible by a JSON file.
 * Browser-safe (no node imports): the page and the CLI share this registry.
 */

/** The heads of @cliffguard/rnn (see its implementation.ts). */
export type Head = 'last-softmax' | 'softmax' | 'last-linear' | 'sigmoid';
export type Activation = 'tanh' | 'sigmoid';
/**
 * How the synthetic inputs look: 'one-hot' symbols (temporal order, characters), 'binary'
 * multi-hot piano-roll frames, or 'dense' uniform values.
 */
export type InputKind = 'one-hot' | 'binary' | 'dense';

export interface BenchConfig {
  name: string;
  description: string;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  /** sequence length T */
  seqLen: number;
  batchSize: number;
  head: Head;
  activation: Activation;
  inputKind: InputKind;
  /** SGD learning rate (does not change the cost of a step; kept realistic so losses stay finite) */
  learningRate: number;
  /** global-norm clipping threshold (paper Algorithm 1) */
  maxNorm: number;
  /** Ω weight α for the SGD-CR rows (paper eq. 9-10) */
  omegaWeight: number;
}

const P = (seqLen: number): BenchConfig => ({
  name: `P${seqLen}`,
  description: `temporal order (paper Fig. 7): 6 one-hot inputs, 50 tanh units, 4 classes, batch 20, T ${seqLen}`,
  inputSize: 6,
  hiddenSize: 50,
  outputSize: 4,
  seqLen,
  batchSize: 20,
  head: 'last-softmax',
  activation: 'tanh',
  inputKind: 'one-hot',
  learningRate: 0.01,
  maxNorm: 1,
  omegaWeight: 2,
});

/** The built-in configurations, by name. */
export const builtinConfigs: Readonly<Record<string, BenchConfig>> = Object.freeze({
  P50: P(50),
  P100: P(100),
  P200: P(200),
  M: {
    name: 'M',
    description:
      'polyphonic music: 88-key piano roll, 300 sigmoid units, 88 Bernoulli outputs, T 100, batch 16',
    inputSize: 88,
    hiddenSize: 300,
    outputSize: 88,
    seqLen: 100,
    batchSize: 16,
    head: 'sigmoid',
    activation: 'sigmoid',
    inputKind: 'binary',
    learningRate: 0.1,
    maxNorm: 8,
    omegaWeight: 0.5,
  },
  C: {
    name: 'C',
    description:
      'character LM: 50 one-hot symbols, 512 sigmoid units, 50 classes every step, T 100, batch 32',
    inputSize: 50,
    hiddenSize: 512,
    outputSize: 50,
    seqLen: 100,
    batchSize: 32,
    head: 'softmax',
    activation: 'sigmoid',
    inputKind: 'one-hot',
    learningRate: 0.05,
    maxNorm: 45,
    omegaWeight: 0.01,
  },
  tiny: {
    name: 'tiny',
    description: 'smoke test: 3 one-hot inputs, 8 tanh units, 3 classes every step, T 6, batch 4',
    inputSize: 3,
    hiddenSize: 8,
    outputSize: 3,
    seqLen: 6,
    batchSize: 4,
    head: 'softmax',
    activation: 'tanh',
    inputKind: 'one-hot',
    learningRate: 0.1,
    maxNorm: 1,
    omegaWeight: 0.5,
  },
});

const HEADS: Head[] = ['last-softmax', 'softmax', 'last-linear', 'sigmoid'];
const ACTIVATIONS: Activation[] = ['tanh', 'sigmoid'];
const INPUT_KINDS: InputKind[] = ['one-hot', 'binary', 'dense'];
const INTEGER_FIELDS = ['inputSize', 'hiddenSize', 'outputSize', 'seqLen', 'batchSize'] as const;
const POSITIVE_FIELDS = ['learningRate', 'maxNorm'] as const;

/** A config file entry: `name` and every shape field; the rest falls back to a P-like default. */
export type ConfigInput = Partial<BenchConfig> & Record<string, unknown>;

/**
 * Checks one config object (from a JSON file) and fills the optional fields.
 * Throws an Error naming the entry, the bad field, its value and what was expected.
 */
export function validateConfig(input: unknown, where: string): BenchConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error(`${where}: expected an object with name, inputSize, hiddenSize, ..., got ${show(input)}`);
  }
  const c = input as ConfigInput;
  const at = typeof c.name === 'string' ? `${where} (config "${c.name}")` : where;
  if (typeof c.name !== 'string' || !/^[A-Za-z][\w.-]*$/.test(c.name)) {
    throw new Error(`${at}: "name" must be a string like "P100" or "my-config", got ${show(c.name)}`);
  }
  for (const field of INTEGER_FIELDS) {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`${at}: "${field}" must be a positive integer, got ${show(v)}`);
    }
  }
  for (const field of POSITIVE_FIELDS) {
    const v = c[field];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))) {
      throw new Error(`${at}: "${field}" must be a positive finite number, got ${show(v)}`);
    }
  }
  if (c.omegaWeight !== undefined && !(typeof c.omegaWeight === 'number' && c.omegaWeight >= 0)) {
    throw new Error(`${at}: "omegaWeight" must be a number >= 0, got ${show(c.omegaWeight)}`);
  }
  const head = c.head ?? 'softmax';
  if (!HEADS.includes(head))
    throw new Error(`${at}: "head" must be one of ${HEADS.join(', ')}, got ${show(head)}`);
  const activation = c.activation ?? 'tanh';
  if (!ACTIVATIONS.includes(activation)) {
    throw new Error(`${at}: "activation" must be one of ${ACTIVATIONS.join(', ')}, got ${show(activation)}`);
  }
  const inputKind = c.inputKind ?? 'one-hot';
  if (!INPUT_KINDS.includes(inputKind)) {
    throw new Error(`${at}: "inputKind" must be one of ${INPUT_KINDS.join(', ')}, got ${show(inputKind)}`);
  }
  const known = new Set<string>([
    'name',
    'description',
    'head',
    'activation',
    'inputKind',
    'omegaWeight',
    ...INTEGER_FIELDS,
    ...POSITIVE_FIELDS,
  ]);
  if ('clipNorm' in c) {
    throw new Error(
      `${at}: "clipNorm" is now "maxNorm" (the clip threshold has one name, from CLI to kernel)`,
    );
  }
  const unknown = Object.keys(c).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new Error(`${at}: unknown field(s) ${unknown.join(', ')}; expected only ${[...known].join(', ')}`);
  }
  return {
    name: c.name,
    description: typeof c.description === 'string' ? c.description : `custom config ${c.name}`,
    inputSize: c.inputSize!,
    hiddenSize: c.hiddenSize!,
    outputSize: c.outputSize!,
    seqLen: c.seqLen!,
    batchSize: c.batchSize!,
    head,
    activation,
    inputKind,
    learningRate: c.learningRate ?? 0.01,
    maxNorm: c.maxNorm ?? 1,
    omegaWeight: c.omegaWeight ?? 0.5,
  };
}

/**
 * Parses a config file's text: one config object, or an array of them.
 * `source` names the file in error messages.
 */
export function parseConfigFile(text: string, source: string): BenchConfig[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`config file ${source} is not valid JSON: ${(err as Error).message}`);
  }
  const entries = Array.isArray(data) ? data : [data];
  if (entries.length === 0) throw new Error(`config file ${source} holds an empty array; expected configs`);
  const configs = entries.map((e, i) => validateConfig(e, Array.isArray(data) ? `${source}[${i}]` : source));
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.name)) throw new Error(`config file ${source} defines "${c.name}" twice`);
    seen.add(c.name);
  }
  return configs;
}

/** The registry: built-ins plus the configs of any files; a file may not redefine a name. */
export function configRegistry(extra: BenchConfig[] = []): Record<string, BenchConfig> {
  const registry: Record<string, BenchConfig> = { ...builtinConfigs };
  for (const c of extra) {
    if (c.name in builtinConfigs) {
      throw new Error(`config "${c.name}" is built in; give your config another name`);
    }
    registry[c.name] = c;
  }
  return registry;
}

/** Looks names up; an unknown name is an error listing the valid names. */
export function selectConfigs(names: string[], registry: Record<string, BenchConfig>): BenchConfig[] {
  if (names.length === 0)
    throw new Error(`no config given; valid names: ${Object.keys(registry).join(', ')}`);
  return names.map((name) => {
    const c = registry[name];
    if (!c) throw new Error(`unknown config "${name}"; valid names: ${Object.keys(registry).join(', ')}`);
    return c;
  });
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}
