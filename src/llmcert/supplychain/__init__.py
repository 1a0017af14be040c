"""Model supply-chain security: artefact identity, scanning, AI-BOM and signing."""
