/**
 * Facts vLLM's memory use depends on, for popular models that fit this lab. Every figure is from
 * the model's `config.json` on Hugging Face (num_hidden_layers, num_attention_heads,
 * num_key_value_heads, head_dim or hidden_size / num_attention_heads, max_position_embeddings,
 * vocab_size, hidden_size, tie_word_embeddings) and its model card (parameter count and what it
 * was trained for). A model that is not here needs the server's `modelFacts`.
 */
/**
 * What a server does, through vLLM's own pooling flags (vllm/config/model.py@v0.34.0: `runner`
 * is auto|generate|pooling, `convert` is auto|none|embed|classify):
 *  - `generate`: chat and completions (`--runner generate`);
 *  - `embed`: `/v1/embeddings` (`--runner pooling --convert embed`);
 *  - `rerank`: `/rerank` and `/score` with a cross-encoder (`--runner pooling --convert classify`;
 *    the `/v1/` paths log a deprecation warning, entrypoints/pooling/scoring/api_router.py@v0.34.0).
 */
export const SERVER_KINDS = ["generate", "embed", "rerank"] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export interface ModelFacts {
  /** Total parameters, in billions. */
  parametersB: number;
  /** Bits per weight as served: 16 for bf16/fp16, 8 for fp8, 4 for AWQ/GPTQ int4. */
  weightBits: number;
  layers: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  /** The longest context the model supports (max_position_embeddings). */
  maxContext: number;
  /** vocab_size: with hiddenSize, the size of the embeddings (and lm_head), which stay 16-bit. */
  vocabSize: number;
  /** hidden_size. */
  hiddenSize: number;
  /** tie_word_embeddings: lm_head shares the embedding matrix. */
  tiedEmbeddings: boolean;
  /**
   * Encoder-only (BERT, XLM-RoBERTa): its attention layers are EncoderOnlyAttention, whose
   * get_kv_cache_spec returns None (model_executor/layers/attention/encoder_only_attention.py@v0.34.0),
   * so vLLM allocates no KV cache: the weights and the activations are all it holds. @default false
   */
  encoderOnly?: boolean;
  /**
   * What the model was trained to serve. vLLM can wrap any decoder in a pooling adapter, but a
   * chat model's hidden states are not a trained embedding: an embed server on it would answer
   * with vectors that retrieve nothing, so the kinds come from the model card, not the architecture.
   * @default ["generate"]
   */
  kinds?: readonly ServerKind[];
  /**
   * The Hugging Face repository is gated: its files download only with the token of an account
   * that accepted the model's terms (citadel:huggingfaceToken). @default false
   */
  gated?: boolean;
}

/** Whether a model's weights need a Hugging Face token: its catalog entry or its modelFacts say so. */
export function isGated(facts: ModelFacts | undefined): boolean {
  return facts?.gated === true;
}

/** The kinds a model serves; a model without `kinds` is a generate model. */
export function kindsOf(facts: ModelFacts): readonly ServerKind[] {
  return facts.kinds ?? ["generate"];
}

export const MODEL_CATALOG: Readonly<Record<string, ModelFacts>> = {
  // hf.co/meta-llama/Llama-3.1-8B-Instruct: 8.03B; 32 layers, 32 heads, 8 KV heads, 4096/32 = 128; 131072.
  // Gated: Meta's Llama 3.1 repositories open with "You need to agree to share your contact
  // information to access this model" and the Llama 3.1 Community License (hf.co/meta-llama).
  "meta-llama/Llama-3.1-8B-Instruct": {
    gated: true,
    parametersB: 8.03,
    weightBits: 16,
    layers: 32,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    maxContext: 131072,
    vocabSize: 128256,
    hiddenSize: 4096,
    tiedEmbeddings: false,
  },
  // hf.co/Qwen/Qwen3-8B: 8.2B; 36 layers, 32 heads, 8 KV heads, head_dim 128; 40960.
  "Qwen/Qwen3-8B": {
    parametersB: 8.19,
    weightBits: 16,
    layers: 36,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    maxContext: 40960,
    vocabSize: 151936,
    hiddenSize: 4096,
    tiedEmbeddings: false,
  },
  // hf.co/Qwen/Qwen2.5-7B-Instruct: 7.61B; 28 layers, 28 heads, 4 KV heads, 3584/28 = 128; 32768.
  "Qwen/Qwen2.5-7B-Instruct": {
    parametersB: 7.61,
    weightBits: 16,
    layers: 28,
    attentionHeads: 28,
    kvHeads: 4,
    headDim: 128,
    maxContext: 32768,
    vocabSize: 152064,
    hiddenSize: 3584,
    tiedEmbeddings: false,
  },
  // hf.co/Qwen/Qwen2.5-14B-Instruct-AWQ: 14.7B at 4 bits; 48 layers, 40 heads, 8 KV heads, 5120/40 = 128; 32768.
  "Qwen/Qwen2.5-14B-Instruct-AWQ": {
    parametersB: 14.7,
    weightBits: 4,
    layers: 48,
    attentionHeads: 40,
    kvHeads: 8,
    headDim: 128,
    maxContext: 32768,
    vocabSize: 152064,
    hiddenSize: 5120,
    tiedEmbeddings: false,
  },
  // hf.co/mistralai/Mistral-7B-Instruct-v0.3: 7.25B; 32 layers, 32 heads, 8 KV heads, 4096/32 = 128; 32768.
  // Gated: its model card's front matter has `extra_gated_description`, Hugging Face's access form
  // of a gated repository (README.md of hf.co/mistralai/Mistral-7B-Instruct-v0.3).
  "mistralai/Mistral-7B-Instruct-v0.3": {
    gated: true,
    parametersB: 7.25,
    weightBits: 16,
    layers: 32,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    maxContext: 32768,
    vocabSize: 32768,
    hiddenSize: 4096,
    tiedEmbeddings: false,
  },
  // hf.co/Qwen/Qwen3-Embedding-0.6B (tests/fixtures/models/Qwen/Qwen3-Embedding-0.6B/config.json):
  // Qwen3ForCausalLM, 0.6B (model card); 28 layers, 16 heads, 8 KV heads, head_dim 128; 32768;
  // vocab 151669, hidden 1024 (the embedding's dimension), tied. Trained for embeddings only.
  "Qwen/Qwen3-Embedding-0.6B": {
    parametersB: 0.6,
    weightBits: 16,
    layers: 28,
    attentionHeads: 16,
    kvHeads: 8,
    headDim: 128,
    maxContext: 32768,
    vocabSize: 151669,
    hiddenSize: 1024,
    tiedEmbeddings: true,
    kinds: ["embed"],
  },
  // hf.co/BAAI/bge-reranker-v2-m3 (tests/fixtures/models/BAAI/bge-reranker-v2-m3/config.json):
  // XLMRobertaForSequenceClassification, 568M (model card); 24 layers, 16 heads (no GQA),
  // 1024/16 = 64; max_position_embeddings 8194, of which 8192 are usable (two are XLM-R's
  // padding offset); vocab 250002, hidden 1024. A cross-encoder: rerank only.
  "BAAI/bge-reranker-v2-m3": {
    parametersB: 0.568,
    weightBits: 16,
    layers: 24,
    attentionHeads: 16,
    kvHeads: 16,
    headDim: 64,
    maxContext: 8192,
    vocabSize: 250002,
    hiddenSize: 1024,
    tiedEmbeddings: true,
    // BertModel's layers (models/bert.py@v0.34.0, which models/roberta.py builds on).
    encoderOnly: true,
    kinds: ["rerank"],
  },
};
