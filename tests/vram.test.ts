/** The VRAM plan: a pure model of how vLLM sizes memory per GPU. */
import fc from "fast-check";
import {
  planVram,
  describeVramFailure,
  kvBytesPerToken,
  servedWeightBits,
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

/**
 * A made-up model whose numbers come out whole: 1 GiB of parameters, one layer, one KV head of
 * dimension 128 (2 × 1 × 1 × 128 × 2 bytes = 512 bytes of KV cache per token in bf16).
 */
const whole = (over: Partial<ModelFacts> = {}): ModelFacts => ({
  parametersB: 1.073741824,
  weightBits: 16,
  layers: 1,
  attentionHeads: 1,
  kvHeads: 1,
  headDim: 128,
  maxContext: 1 << 20,
  vocabSize: 1024,
  hiddenSize: 1024,
  tiedEmbeddings: true,
  ...over,
});
const GiB = 1024 ** 3;

describe("the weights' bytes, by the formula in weightBytes", () => {
  const params = 1.073741824e9;
  const embedding = 1024 * 1024;

  it("counts 32-bit weights at 4 bytes each, and a 16-bit model smaller than its embeddings at its parameters", () => {
    expect(weightBytes(whole({ weightBits: 32 }))).toBe(params * 4);
    const tiny = whole({ parametersB: 0.001 });
    expect(weightBytes(tiny)).toBe(0.001e9 * 2);
  });

  it("adds a 16-bit scale and a packed zero point per group of 128 only to 4-bit weights, and none to 8-bit", () => {
    expect(weightBytes(whole({ weightBits: 8 }))).toBe(embedding * 2 + (params - embedding));
    expect(weightBytes(whole({ weightBits: 4 }))).toBe(
      embedding * 2 + (params - embedding) / 2 + ((params - embedding) * 2.5) / 128,
    );
  });

  it("serves a 16-bit checkpoint at 8 bits under fp8_per_tensor, and any other at its own bits", () => {
    expect(servedWeightBits("fp8_per_tensor", whole())).toBe(8);
    expect(servedWeightBits("fp8_per_tensor", whole({ weightBits: 4 }))).toBe(4);
    expect(servedWeightBits("awq", whole())).toBe(16);
    expect(servedWeightBits(undefined, whole({ weightBits: 8 }))).toBe(8);
  });
});

describe("the edges of the plan", () => {
  // Weights 2 GiB (1 GiB parameters in bf16); budget 4 GiB × 0.75 = 3 GiB.
  const edge = (over: Partial<VramInput> = {}, model: Partial<ModelFacts> = {}): VramInput => ({
    gpuMemoryGiB: 4,
    tensorParallelSize: 1,
    gpuMemoryUtilization: 0.75,
    model: whole(model),
    kvCacheBytes: 2,
    maxModelLen: 1024,
    reserveGiB: 0.5,
    ...over,
  });

  it("fits with no fixes and no reason when the budget holds the weights, reserve and one request", () => {
    const plan = planVram(edge());
    expect(plan).toMatchObject({ fits: true, reason: null, problems: [], fixes: [] });
    expect(plan.perGpu.tokensThatFit).toBe((0.5 * GiB) / 512);
  });

  it("counts weights plus reserve exactly at the budget as fitting weights, then fails on the KV cache", () => {
    const plan = planVram(edge({ reserveGiB: 1 }));
    expect(plan.reason).toBe("kvCache");
    expect(plan.perGpu.tokensThatFit).toBe(0);
    // No max-model-len fits at all, so none is offered.
    expect(plan.fixes).toEqual([
      "raise vllm.gpuMemoryUtilization to 0.76",
      "spread the model over more GPUs (vllm.gpus, vllm.tensorParallelSize)",
      'set vllm.quantization to "fp8_per_tensor" to halve the weights',
      "serve a quantized build of the model (AWQ/GPTQ 4-bit)",
      'set vllm.kvCacheDtype to "fp8" to halve the KV cache',
    ]);
  });

  it("offers the largest max-model-len in whole KV blocks that fits, below the model's context", () => {
    // 0.5 GiB of KV budget at 256 bytes per token (fp8 KV): 2097152 tokens, a whole number of blocks.
    const plan = planVram(edge({ maxModelLen: 3_000_000, kvCacheBytes: 1 }, { maxContext: 1 << 22 }));
    expect(plan.perGpu.tokensThatFit).toBe(2 * 1048576);
    expect(plan.fixes[0]).toBe(`lower vllm.maxModelLen to ${2 * 1048576} or less`);
    const odd = planVram(
      edge({ maxModelLen: 2_000_000, reserveGiB: 0.5 + 100 / GiB }, { maxContext: 1 << 22 }),
    );
    expect(odd.perGpu.tokensThatFit % 64).not.toBe(0);
    expect(odd.fixes[0]).toBe(
      `lower vllm.maxModelLen to ${Math.floor(odd.perGpu.tokensThatFit / 64) * 64} or less`,
    );
  });

  it("offers gpu-memory-utilization 0.95 but nothing above it", () => {
    // need = 2 + 0.5 + 1024 × 512 B = 2.5005 GiB; of 2.646 GiB that is 94.5%, rounded up to 0.95.
    const at95 = planVram(edge({ gpuMemoryGiB: 2.5005 / 0.945, gpuMemoryUtilization: 0.9 }));
    expect(at95.fits).toBe(false);
    expect(at95.fixes).toContain("raise vllm.gpuMemoryUtilization to 0.95");
    const at96 = planVram(edge({ gpuMemoryGiB: 2.5005 / 0.955, gpuMemoryUtilization: 0.9 }));
    expect(at96.fits).toBe(false);
    expect(at96.fixes.filter((f) => f.includes("gpuMemoryUtilization"))).toEqual([]);
  });

  it("offers fp8 weights only above 8 bits, a 4-bit build only above 4, and an fp8 KV cache only to a bf16 one whose weights fit", () => {
    const fixesOf = (over: Partial<VramInput>, model: Partial<ModelFacts>) =>
      planVram(edge({ maxModelLen: 1 << 23, at: "m", ...over }, model)).fixes.filter(
        (f) => !f.startsWith("lower"),
      );
    const spread = "spread the model over more GPUs (m.gpus, m.tensorParallelSize)";
    expect(fixesOf({ kvCacheBytes: 1 }, { weightBits: 8 })).toEqual([
      "raise m.gpuMemoryUtilization to 0.88",
      spread,
      "serve a quantized build of the model (AWQ/GPTQ 4-bit)",
    ]);
    expect(fixesOf({}, { weightBits: 4 })).toEqual([
      spread,
      'set m.kvCacheDtype to "fp8" to halve the KV cache',
    ]);
    // Weights that do not fit: a smaller KV cache would not help.
    expect(planVram(edge({ gpuMemoryUtilization: 0.5, at: "m" })).fixes).toEqual([
      "raise m.gpuMemoryUtilization to 0.63",
      spread,
      'set m.quantization to "fp8_per_tensor" to halve the weights',
      "serve a quantized build of the model (AWQ/GPTQ 4-bit)",
    ]);
  });

  it("gives an encoder-only model no KV cache: its whole max-model-len fits once the weights do", () => {
    const plan = planVram(edge({ maxModelLen: 8192, reserveGiB: 1 }, { encoderOnly: true }));
    expect(plan).toMatchObject({ fits: true, reason: null, fixes: [] });
    expect(plan.perGpu).toMatchObject({ kvBudgetGiB: 0, kvBytesPerToken: 0, tokensThatFit: 8192 });
    const tight = planVram(edge({ gpuMemoryUtilization: 0.6 }, { encoderOnly: true }));
    expect(tight.reason).toBe("weights");
    expect(tight.fixes).not.toContain('set vllm.kvCacheDtype to "fp8" to halve the KV cache');
  });

  it("writes the failure as the model, the host, the problems and every fix", () => {
    const plan = planVram(edge({ reserveGiB: 1 }));
    expect(describeVramFailure("m", "h", plan)).toBe(
      `vLLM could not start m on h: ${plan.problems[0]}. Fix: ${plan.fixes.join("; or ")}`,
    );
    expect(plan.problems).toEqual([
      "one request of max-model-len 1024 tokens needs 0 GiB of KV cache per GPU, but only 0 GiB (0 tokens) is left after 2 GiB of weights and the 1 GiB reserve",
    ]);
  });
});
