from routewatch.cli import main

main()
