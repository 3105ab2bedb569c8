from hdcli.cli import main

main()
