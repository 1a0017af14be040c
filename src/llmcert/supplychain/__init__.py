"""Supply-chain security of model artefacts (WDTA AI-STR-03, OWASP LLM03).

- :mod:`llmcert.supplychain.scan`: format by bytes, pickle allowlists (two engines), structure checks
  of safetensors/GGUF/NumPy, chat templates analysed as code, remote code, provenance; JSON and SARIF.
- :mod:`llmcert.supplychain.identity`: streamed, parallel per-file and root digests; manifests.
- :mod:`llmcert.supplychain.bom`: CycloneDX 1.6 ML-BOM with a model card, schema-validated.
- :mod:`llmcert.supplychain.signing`: OpenSSF Model Signing plus DSSE/in-toto attestations.

Import the sub-module you need: each pulls in only its own dependencies.
"""
