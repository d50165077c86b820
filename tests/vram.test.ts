/** The VRAM plan: a pure model of how vLLM sizes memory per GPU. */
import fc from "fast-check";
import {
  planVram,
  describeVramFailure,
  kvBytesPerToken,
  weightBytes,
  type VramInput,
} from "../components/plan";
import { MODEL_CATALOG, type ModelFacts } from "../components/shared/models";

const llama = MODEL_CATALOG["meta-llama/Llama-3.1-8B-Instruct"]!;
const qwen3 = MODEL_CATALOG["Qwen/Qwen3-8B"]!;
const rtx = (model: ModelFacts, over: Partial<VramInput> = {}): VramInput => ({
  gpuMemoryGiB: 16,
  tensorParallelSize: 1,
  gpuMemoryUtilization: 0.9,
  model,
  kvCacheBytes: 2,
  maxModelLen: 8192,
  reserveGiB: 2.5,
  ...over,
});

describe("reference points", () => {
  it("Llama-3.1-8B in bf16 does not fit on one 16 GB card: the weights alone are too big", () => {
    const plan = planVram(rtx(llama));
    expect(plan.fits).toBe(false);
    expect(plan.reason).toBe("weights");
    expect(plan.perGpu.weightsGiB).toBe(14.96);
    expect(plan.problems[0]).toContain(
      "the weights need 14.96 GiB per GPU at TP=1, plus a 2.5 GiB reserve, but of each GPU's 16 GiB (the total cudaMemGetInfo reports) vLLM takes 14.4 GiB",
    );
    expect(plan.fixes).toContain("spread the model over more GPUs (vllm.gpus, vllm.tensorParallelSize)");
    expect(plan.fixes).toContain('set vllm.quantization to "fp8_per_tensor" to halve the weights');
    expect(plan.fixes).toContain("serve a quantized build of the model (AWQ/GPTQ 4-bit)");
    expect(plan.fixes.join(" ")).not.toContain("kvCacheDtype");
  });

  it("Llama-3.1-8B in bf16 fits across two 16 GB cards", () => {
    const plan = planVram(rtx(llama, { tensorParallelSize: 2, maxModelLen: 32768 }));
    expect(plan.fits).toBe(true);
    expect(plan.perGpu).toEqual({
      budgetGiB: 14.4,
      weightsGiB: 7.48,
      reserveGiB: 2.5,
      kvBudgetGiB: 4.42,
      // 2 × 32 layers × (8 KV heads / 2) × 128 × 2 bytes
      kvBytesPerToken: 65536,
      tokensThatFit: 72441,
      concurrencyAtMaxModelLen: 2.21,
    });
  });

  it("Qwen3-8B at TP=2 and 32k context, the lab's default, fits about 1.9 requests at a time", () => {
    const plan = planVram(rtx(qwen3, { tensorParallelSize: 2, maxModelLen: 32768 }));
    expect(plan.fits).toBe(true);
    expect(plan.perGpu.kvBytesPerToken).toBe(73728);
    expect(plan.perGpu.concurrencyAtMaxModelLen).toBe(1.9);
  });

  it("fp8 KV cache halves the bytes per token", () => {
    expect(kvBytesPerToken(qwen3, 2, 1)).toBe(kvBytesPerToken(qwen3, 2, 2) / 2);
  });

  it("KV heads are replicated, not split, once TP exceeds them", () => {
    const fewHeads = { ...qwen3, kvHeads: 2 };
    expect(kvBytesPerToken(fewHeads, 4, 2)).toBe(kvBytesPerToken(fewHeads, 2, 2));
  });
});

describe("a max-model-len that does not fit", () => {
  const input = rtx(qwen3, { tensorParallelSize: 2, maxModelLen: 131072 });
  const plan = planVram(input);

  it("fails with the numbers and the largest max-model-len that fits both the KV cache and the model (40960)", () => {
    expect(plan.fits).toBe(false);
    expect(plan.reason).toBe("kvCache");
    expect(plan.problems[0]).toBe(
      "one request of max-model-len 131072 tokens needs 9 GiB of KV cache per GPU, but only 4.27 GiB (62222 tokens) is left after 7.63 GiB of weights and the 2.5 GiB reserve",
    );
    expect(plan.fixes[0]).toBe("lower vllm.maxModelLen to 40960 or less");
    expect(plan.fixes).toContain('set vllm.kvCacheDtype to "fp8" to halve the KV cache');
  });

  it("suggests values that really fit", () => {
    expect(planVram({ ...input, maxModelLen: 62208 }).fits).toBe(true);
    expect(planVram({ ...input, maxModelLen: 62208 + 16 }).fits).toBe(false);
  });

  it("names the model, the host and every fix in one message", () => {
    const message = describeVramFailure("Qwen/Qwen3-8B", "citadel", plan);
    expect(message).toMatch(
      /^vLLM could not start Qwen\/Qwen3-8B on citadel: one request of max-model-len 131072 tokens/,
    );
    expect(message).toContain("Fix: lower vllm.maxModelLen to 40960 or less; or ");
  });

  it("offers a higher utilization only when one would do", () => {
    const tight = planVram(rtx(qwen3, { tensorParallelSize: 2, maxModelLen: 65536 }));
    expect(tight.fits).toBe(false);
    expect(tight.fixes).toContain("raise vllm.gpuMemoryUtilization to 0.92");
    expect(
      planVram(rtx(qwen3, { tensorParallelSize: 2, maxModelLen: 65536, gpuMemoryUtilization: 0.92 })).fits,
    ).toBe(true);
  });
});

describe("quantized weights", () => {
  it("count the 16-bit embeddings and lm_head and the group scales: Qwen2.5-14B-AWQ is about 9.3 GiB", () => {
    const awq = MODEL_CATALOG["Qwen/Qwen2.5-14B-Instruct-AWQ"]!;
    const gib = weightBytes(awq) / 1024 ** 3;
    expect(gib).toBeGreaterThan(9.1);
    expect(gib).toBeLessThan(9.5);
    // Parameters × bits alone would have said 6.85 GiB.
    expect((awq.parametersB * 1e9 * 4) / 8 / 1024 ** 3).toBeCloseTo(6.85, 2);
  });

  it("leave 16-bit models at parameters × 2 bytes", () => {
    const qwen = MODEL_CATALOG["Qwen/Qwen3-8B"]!;
    expect(weightBytes(qwen)).toBe(qwen.parametersB * 1e9 * 2);
  });

  it("never make a quantized model smaller than its embeddings", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 200000 }),
        fc.integer({ min: 256, max: 8192 }),
        fc.boolean(),
        fc.double({ min: 0.1, max: 80, noNaN: true }),
        (vocab, hidden, tied, b) => {
          const m = { ...MODEL_CATALOG["Qwen/Qwen3-8B"]!, parametersB: b, weightBits: 4 as const };
          const facts = { ...m, vocabSize: vocab, hiddenSize: hidden, tiedEmbeddings: tied };
          expect(weightBytes(facts)).toBeGreaterThanOrEqual(vocab * hidden * (tied ? 1 : 2) * 2);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("properties", () => {
  const facts = fc.record({
    parametersB: fc.double({ min: 0.5, max: 80, noNaN: true }),
    weightBits: fc.constantFrom(4, 8, 16),
    layers: fc.integer({ min: 8, max: 96 }),
    attentionHeads: fc.constantFrom(16, 32, 64),
    kvHeads: fc.constantFrom(1, 2, 4, 8, 16),
    headDim: fc.constantFrom(64, 128, 256),
    maxContext: fc.constant(262144),
    vocabSize: fc.constantFrom(32000, 128256, 151936),
    hiddenSize: fc.constantFrom(2048, 4096, 5120),
    tiedEmbeddings: fc.boolean(),
  });
  const inputs = fc.record({
    gpuMemoryGiB: fc.constantFrom(8, 12, 16, 24, 48, 80),
    tensorParallelSize: fc.constantFrom(1, 2, 4),
    gpuMemoryUtilization: fc.double({ min: 0.5, max: 1, noNaN: true }),
    model: facts,
    kvCacheBytes: fc.constantFrom(1, 2),
    maxModelLen: fc.integer({ min: 256, max: 262144 }),
    reserveGiB: fc.double({ min: 0, max: 6, noNaN: true }),
  });

  it("more GPUs never turn a fitting plan into a failing one", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        fc.pre(planVram(input).fits);
        expect(planVram({ ...input, tensorParallelSize: input.tensorParallelSize * 2 }).fits).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("a smaller max-model-len never turns a fitting plan into a failing one", () => {
    fc.assert(
      fc.property(inputs, fc.double({ min: 0.01, max: 1, noNaN: true }), (input, shrink) => {
        fc.pre(planVram(input).fits);
        const smaller = Math.max(1, Math.floor(input.maxModelLen * shrink));
        expect(planVram({ ...input, maxModelLen: smaller }).fits).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("every failing plan says why and what to change", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const plan = planVram(input);
        expect(plan.fits).toBe(plan.problems.length === 0);
        if (!plan.fits) expect(plan.fixes.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
