import sys

from dicom_deid.cli import main

sys.exit(main())
