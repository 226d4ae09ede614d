from dma.cli import main

raise SystemExit(main())
