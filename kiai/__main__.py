from kiai.cli import main

main()
