// Pattern texts shared by the pre-tokenizer and its hand-written scanners.

/** GPT-2's split pattern, which `ByteLevel { use_regex: true }` applies (Oniguruma syntax). */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
