from hloscope.cli import main

raise SystemExit(main())
