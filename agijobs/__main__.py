from agijobs.cli import main

main()
