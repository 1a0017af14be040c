from llmcert.cli import main

main()
